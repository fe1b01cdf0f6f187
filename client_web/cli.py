"""`warung web`: serve the shop to web browsers.

    warung web [--host 127.0.0.1] [--port 8000] [--server HOST:PORT] [--tls [--tls-ca FILE]]
               [--public-url URL] [--max-tabs N]

Each browser tab that opens the page gets its own `warung` app (`client_web.tab`), a
normal client of the shop's server at `--server`.
"""

from __future__ import annotations

import argparse
import asyncio
import shlex
import sys

from client_tui.connection import Target
from protocol.rules import DEFAULT_PORT

PROG = "warung web"
DEFAULT_WEB_PORT = 8000


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description="Serve warung to web browsers: each tab runs its own app."
    )
    parser.add_argument("--host", default="127.0.0.1", help="listen on (default: 127.0.0.1)")
    parser.add_argument(
        "--port", type=int, default=DEFAULT_WEB_PORT, help="HTTP port (default: 8000; 0: any)"
    )
    parser.add_argument(
        "--server",
        default=f"127.0.0.1:{DEFAULT_PORT}",
        metavar="HOST:PORT",
        help=f"the shop's warung-server (default: 127.0.0.1:{DEFAULT_PORT})",
    )
    parser.add_argument("--tls", action="store_true", help="connect to the shop with TLS")
    parser.add_argument("--tls-ca", metavar="FILE", help="trust this CA file (implies --tls)")
    parser.add_argument(
        "--public-url",
        metavar="URL",
        help="the address browsers use, behind a reverse proxy (e.g. https://shop.example)",
    )
    parser.add_argument(
        "--max-tabs",
        type=int,
        default=60,
        help="tabs open at once (default: 60, below the shop server's 64 connections per "
        "address, which all tabs share)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        target = shop_target(args)
    except ValueError as error:
        print(f"{PROG}: {error}", file=sys.stderr)
        return 2
    if not 0 <= args.port <= 65535 or args.max_tabs < 1:
        print(f"{PROG}: --port must be from 0 to 65535, --max-tabs at least 1", file=sys.stderr)
        return 2
    from client_web.server import WebServer  # aiohttp loads only once the arguments are good

    server = WebServer(
        tab_command(target),
        args.host,
        args.port,
        public_url=args.public_url,
        max_tabs=args.max_tabs,
    )

    def started(url: str, listening: str) -> None:
        served = "" if url == listening else f"served on {listening}, "
        print(f"{PROG}: open {url} in a browser ({served}shop: {target.address})", flush=True)

    try:
        asyncio.run(server.run(started))
    except OSError as error:
        print(
            f"{PROG}: cannot listen on {args.host}:{args.port}: {error.strerror}", file=sys.stderr
        )
        return 1
    return 0


def shop_target(args: argparse.Namespace) -> Target:
    """The shop's server from `--server` and the TLS options; ValueError if malformed."""
    target = Target().with_address(args.server)
    if args.tls or args.tls_ca:
        target = Target(target.host, target.port, True, args.tls_ca)
    return target


def tab_command(target: Target) -> str:
    """The shell command textual-serve runs for each tab."""
    argv = [sys.executable, "-m", "client_web.tab", "--host", target.host]
    argv += ["--port", str(target.port)]
    if target.tls:
        argv.append("--tls")
    if target.cafile:
        argv += ["--tls-ca", target.cafile]
    return shlex.join(argv)
