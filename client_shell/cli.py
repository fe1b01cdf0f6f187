"""`warung-shell [--host H] [--port P] [--tls [--tls-ca FILE]] [-c "OP key=value ..."]`: the
console.

With `-c` (repeatable) it runs those commands in order and exits: 0 when all succeeded,
else the status of the first that failed (1 an error answer or a lost link, 2 a line it
could not parse). Without, it opens the interactive prompt.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import ssl
import sys

from client_shell.interactive import run_interactive
from client_shell.shell import ERROR, OK, Quit, Shell
from protocol.client import AsyncClient, ConnectionLost
from protocol.errors import WarungError
from protocol.rules import DEFAULT_PORT

CLIENT_NAME = "warung-shell/0.1"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="warung-shell", description="The warung console.")
    parser.add_argument("--host", default="127.0.0.1", help="server host (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"default {DEFAULT_PORT}")
    parser.add_argument("--tls", action="store_true", help="connect with TLS")
    parser.add_argument("--tls-ca", metavar="FILE", help="trust this CA file for TLS")
    parser.add_argument(
        "-c",
        dest="commands",
        action="append",
        metavar="COMMAND",
        help='run "OP key=value ..." (or \\login USER) and exit; may be repeated',
    )
    return parser.parse_args(argv)


async def run(options: argparse.Namespace) -> int:
    one_shot = options.commands is not None
    # A one-shot run should fail fast on a dropped link rather than wait for a reconnect.
    tls: ssl.SSLContext | bool = False
    if options.tls or options.tls_ca:
        try:
            tls = ssl.create_default_context(cafile=options.tls_ca)
        except (OSError, ssl.SSLError) as bad:
            print(f"warung-shell: cannot load the CA file {options.tls_ca}: {bad}", file=sys.stderr)
            return ERROR
    client = AsyncClient(
        options.host, options.port, tls=tls, client_name=CLIENT_NAME, reconnect=not one_shot
    )
    warn = functools.partial(print, file=sys.stderr)
    try:
        await client.connect()
    except (OSError, TimeoutError, ConnectionLost, WarungError) as failed:
        warn(f"warung-shell: cannot connect to {options.host}:{options.port}: {failed}")
        return ERROR
    shell = Shell(client, warn=warn)
    try:
        if not one_shot:
            return await run_interactive(shell)
        for line in options.commands:
            status = await shell.run_line(line)
            if status != OK:
                return status
        return OK
    except Quit:
        return OK
    finally:
        await client.close()


def main(argv: list[str] | None = None) -> int:
    options = parse_args(argv)
    try:
        return asyncio.run(run(options))
    except KeyboardInterrupt:  # Ctrl-C while a command runs (at the prompt it clears the line)
        return 130


if __name__ == "__main__":
    sys.exit(main())
