"""One browser tab's app: `python -m client_web.tab --host H --port P [--tls [--tls-ca F]]`.

`warung web` runs this once per websocket session (textual-serve starts it with Textual's
web driver). The tab is a normal client of the shop's server, but it remembers nothing on
the web host (no last user, no kept session: the next visitor is someone else), its
sign-in form offers no other server, and it does not sell offline: every tab would share
the web host's one data dir (one `offline.db` for all the clerks' tabs), and a tab's
sales queued there would wait for that clerk's next tab to be sent, if ever.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from client_tui.connection import Target

if TYPE_CHECKING:
    from client_tui.app import WarungApp


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m client_web.tab")
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--tls", action="store_true")
    parser.add_argument("--tls-ca", metavar="FILE")
    return parser


def tab_app(target: Target) -> WarungApp:
    """The app of one browser tab of the shop at `target`."""
    from client_tui.app import WarungApp  # Textual loads only once the arguments are good

    return WarungApp(target, settings=None, server_fixed=True, sells_offline=False)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    tab_app(Target(args.host, args.port, args.tls or bool(args.tls_ca), args.tls_ca)).run()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
