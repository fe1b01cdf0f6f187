"""One browser tab's app: `python -m client_web.tab --host H --port P [--tls [--tls-ca F]]`.

`warung web` runs this once per websocket session (textual-serve starts it with Textual's
web driver). The tab is a normal client of the shop's server, but it remembers nothing on
the web host (no last user, no kept session: the next visitor is someone else) and its
sign-in form offers no other server.
"""

from __future__ import annotations

import argparse

from client_tui.connection import Target


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m client_web.tab")
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--tls", action="store_true")
    parser.add_argument("--tls-ca", metavar="FILE")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    target = Target(args.host, args.port, args.tls or bool(args.tls_ca), args.tls_ca)
    from client_tui.app import WarungApp  # Textual loads only once the arguments are good

    WarungApp(target, settings=None, server_fixed=True).run()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
