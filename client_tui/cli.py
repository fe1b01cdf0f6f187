"""`warung`: the terminal client.

    warung [--host H] [--port P] [--user NAME] [--tls [--tls-ca FILE]] [--receipt-prefix P]
    warung --demo
    warung web [--host H] [--port P] [--server HOST:PORT] ...   (see client_web.cli)

Without options it goes to the server and user it used last (remembered in the user's
config dir), else 127.0.0.1:7411. `--demo` runs a demo shop of its own in the user's data
dir, signs in as its customer and stops the shop's server on exit.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace

from client_tui.connection import Target
from client_tui.demo import DEMO_USER, DemoServer
from client_tui.offline_queue import PrefixError, check_prefix, default_prefix
from client_tui.settings import Settings
from protocol.rules import DEFAULT_PORT

PROG = "warung"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="warung's terminal shop: browse, search, buy, and follow your orders.",
    )
    parser.add_argument("--host", help="the shop's server (default: the last one, else 127.0.0.1)")
    parser.add_argument(
        "--port", type=int, help=f"its port (default: the last one, else {DEFAULT_PORT})"
    )
    parser.add_argument("--user", help="the username to fill in (default: the last one)")
    parser.add_argument("--tls", action="store_true", help="connect with TLS")
    parser.add_argument("--tls-ca", metavar="FILE", help="trust this CA file for TLS")
    parser.add_argument(
        "--receipt-prefix",
        metavar="PREFIX",
        type=_prefix,
        help="this till's prefix on the receipts of sales rung up offline, 1 to 16 capital "
        "letters or digits, one per till of the shop (default: the host name, e.g. KASIR1)",
    )
    parser.add_argument(
        "--demo",
        action="store_true",
        help="run a demo shop locally, sign in as its customer, stop it on exit",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["web"]:
        from client_web.cli import main as web_main

        return web_main(argv[1:])
    args = build_parser().parse_args(argv)
    if args.port is not None and not 1 <= args.port <= 65535:
        print(f"{PROG}: --port must be from 1 to 65535", file=sys.stderr)
        return 2
    if args.demo:
        return run_demo()
    settings = Settings()
    last = settings.remembered()
    user = args.user if args.user is not None else last.user
    target = choose_target(args, last.target)
    return run(target, settings, user, receipt_prefix=args.receipt_prefix)


def choose_target(args: argparse.Namespace, last: Target | None) -> Target:
    """The server named on the command line, else the last one, else the default."""
    target = last or Target()
    if args.host is not None:
        target = Target(args.host, args.port or DEFAULT_PORT)
    elif args.port is not None:
        target = replace(target, port=args.port)
    if args.tls or args.tls_ca:
        target = replace(target, tls=True, cafile=args.tls_ca)
    return target


def run_demo() -> int:
    """The demo server starts (or another window's is found) while Textual loads; the app
    shows it is starting, then signs in."""
    server = DemoServer()
    print(f"{PROG}: starting the demo shop in {server.folder}", flush=True)  # before Textual
    server.begin()
    try:
        return run(Target(), None, DEMO_USER, demo=server)
    finally:
        server.stop()


def run(
    target: Target,
    settings: Settings | None,
    user: str,
    *,
    demo: DemoServer | None = None,
    receipt_prefix: str | None = None,
) -> int:
    from client_tui.app import WarungApp  # Textual loads only once the arguments are good

    prefix = receipt_prefix or default_prefix()
    WarungApp(target, settings=settings, user=user, demo=demo, receipt_prefix=prefix).run()
    return 0


def _prefix(text: str) -> str:
    try:
        return check_prefix(text)
    except PrefixError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
