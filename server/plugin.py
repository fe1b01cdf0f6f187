"""`twistd warung ...` and `twist warung ...`: the server of `warung-server serve`, with the
same options, run by Twisted's own runners (their logging, pid file, daemonizing, reactor).

`twisted/plugins/warung_plugin.py` exposes `service_maker` to Twisted's plugin discovery,
which imports every plugin module whenever its cache is stale: this module imports nothing
of the server until a command line names `warung`.
"""

from __future__ import annotations

import sys
from argparse import Namespace

from twisted.application.service import IServiceMaker, Service
from twisted.plugin import IPlugin
from twisted.python import usage
from zope.interface import implementer  # type: ignore[import-untyped]  # no type information


class ServeOptions(usage.Options):
    """The options of `warung-server serve`, settled as it settles them: every word after
    `warung` goes to its parser, then $WARUNG_... variables and the --config file fill in, so
    the two command lines cannot drift apart. `--help` prints that parser's help (status 0);
    a wrong option or value is named on standard error (status 2)."""

    def parseOptions(self, options: list[str] | None = None) -> None:
        from server.cli import PROG, serve_args
        from server.config_options import ConfigError

        try:
            self.args: Namespace = serve_args(options or [])
        except ConfigError as exc:
            for problem in exc.problems:
                print(f"{PROG}: {problem}", file=sys.stderr)
            raise SystemExit(2) from None

    def getUsage(self, width: int | None = None) -> str:
        return "the options of `warung-server serve`: see `twist warung --help`"


@implementer(IServiceMaker, IPlugin)
class WarungServiceMaker:
    tapname = "warung"
    description = "The warung sales server (the options of `warung-server serve`)."
    options = ServeOptions

    def makeService(self, options: ServeOptions) -> Service:
        """The `WarungService` of `warung-server serve`, on the reactor Twisted installed.

        An option the server cannot run with ends the command here, with status 1."""
        from twisted.internet import reactor

        from server.service import ConfigurationError, build

        args = options.args
        if args.log_file is not None or args.log_format != "text":
            raise SystemExit(
                "warung: under twist and twistd the runner writes the log: give it their own "
                "options (twist --log-format json --log-file PATH warung ..., twistd --logfile "
                "PATH warung ...), not --log-format or --log-file (nor WARUNG_LOG_* or the "
                "config file's log_* keys)"
            )
        try:
            return build(args, reactor)
        except ConfigurationError as exc:
            raise SystemExit(f"warung: {exc}") from None


service_maker = WarungServiceMaker()
