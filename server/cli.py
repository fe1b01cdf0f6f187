"""`warung-server`: set up and run the shop's server.

Exit status: 0 done; 1 the command could not do its work (database unreachable, user exists,
file rejected, ...); 2 the command line or an argument is wrong. Messages go to stderr.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, Sequence
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path

from db.backup import BackupError, backup
from db.connect import DatabaseUnavailable, connect, disconnect
from db.demo import ShopNotEmpty, load_demo
from db.importer import ImportFailed, import_products
from db.migrations import MigrationError, migrate, what_migrate_did
from db.restore import RestoreError, restore
from db.url import DatabaseURLError, parse_url, resolve
from protocol.rules import DEFAULT_PORT
from server.cli_common import PROG, UsageError, add_db, command, open_current, say
from server.config import Setting, Settled, render, settle
from server.config_options import CheckingParser, ConfigError, PairsAction, suppress_defaults
from server.limits import ZERO_ALLOWED, Limits, with_overrides
from server.user_commands import add_user_commands

SERVE_EPILOG = (
    "Each option is also a key of the --config file (--metrics-port: metrics_port) and a "
    "variable (WARUNG_METRICS_PORT); a flag beats a variable, which beats the file. "
    "See docs/operations.md, Configuration."
)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except (DatabaseURLError, UsageError) as exc:
        say(f"{PROG}: {exc}")
        return 2
    except ConfigError as exc:
        for problem in exc.problems:
            say(f"{PROG}: {problem}")
        return 2
    except (DatabaseUnavailable, MigrationError, BackupError, RestoreError) as exc:
        say(f"{PROG}: {exc}")
        return 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="The warung sales server and its database tools.",
        epilog="Database URLs: sqlite:///relative.db, sqlite:////absolute.db, "
        "postgresql://USER@HOST:PORT/DBNAME (default: $WARUNG_DB, else sqlite:///warung.db).",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    init = command(commands, "init", run_init, "create the database schema or upgrade it")
    init.add_argument("--demo", action="store_true", help="load the demo shop if it is empty")

    add_user_commands(commands)

    imports = command(
        commands, "import-products", run_import, "add or update products from a CSV file"
    )
    imports.add_argument(
        "file", type=Path, help="CSV with header sku,name,description,category,price,stock"
    )

    back = command(commands, "backup", run_backup, "copy the database to a backup file")
    back.add_argument("dest", type=Path, help="the backup file to write")
    back.add_argument("--force", action="store_true", help="replace DEST if it exists")

    put_back = command(
        commands, "restore", run_restore, "put a backup back (stop every server on it first)"
    )
    put_back.add_argument("src", type=Path, help="a file written by `warung-server backup`")
    put_back.add_argument(
        "--force", action="store_true", help="replace a database that is not empty"
    )

    serve = command(commands, "serve", run_serve, "run the server")
    add_serve_options(serve)  # a new option goes there, to be in the file and the environment
    serve.epilog = SERVE_EPILOG
    suppress_defaults(serve)  # a flag not given leaves room for $WARUNG_..., the file, the default

    config = commands.add_parser("config", help="check the configuration of serve")
    config_commands = config.add_subparsers(dest="config_command", required=True, metavar="COMMAND")
    check = command(
        config_commands,
        "check",
        run_config_check,
        "print serve's effective configuration and where each value came from",
    )
    add_serve_options(check)
    check.epilog = SERVE_EPILOG
    suppress_defaults(check)
    return parser


def add_serve_options(serve: argparse.ArgumentParser) -> None:
    """`serve`'s options (but --db): each is also a key of --config's file and a $WARUNG_...

    server/config_options.py derives the file's keys and the variables from these actions, so
    an option added here needs nothing more to be configurable (docs/operations.md,
    "Configuration").
    """
    serve.add_argument(
        "--config",
        metavar="FILE",
        help="read options from this TOML file (default: $WARUNG_CONFIG); "
        "flags beat $WARUNG_... variables, which beat the file",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=_port, default=DEFAULT_PORT, help="0 takes a free port")
    serve.add_argument(
        "--demo",
        action="store_true",
        help="give an empty shop the demo products and a shop without users demo accounts",
    )
    serve.add_argument("--tls-cert", metavar="FILE", help="PEM certificate: serve over TLS")
    serve.add_argument("--tls-key", metavar="FILE", help="PEM private key for --tls-cert")
    serve.add_argument(
        "--metrics-port",
        type=_port,
        metavar="PORT",
        help="serve /metrics, /healthz and /readyz here (HTTP)",
    )
    serve.add_argument(
        "--metrics-host",
        default="127.0.0.1",
        metavar="ADDRESS",
        help="address the metrics port listens on (default: 127.0.0.1, loopback only)",
    )
    serve.add_argument(
        "--proxy-from",
        action="append",
        default=[],
        type=_network,
        metavar="ADDRESS_OR_CIDR",
        help="a proxy (HAProxy with send-proxy-v2) whose connections open with a PROXY "
        "protocol header naming the client; required from it, refused from anyone else "
        "(repeatable)",
    )
    serve.add_argument(
        "--limit",
        action=PairsAction,
        type=_limit,
        default=[],
        metavar="NAME=VALUE",
        help="override a connection limit, e.g. max_in_flight=128 or heartbeat_s=5 (repeatable)",
    )
    serve.add_argument(
        "--security-log",
        metavar="PATH",
        help="append the security log (JSON lines) to this file, rotated at 10 MiB "
        "(default: into the server's log)",
    )
    serve.add_argument(
        "--log-format",
        choices=("text", "json"),
        default="text",
        help="the server's log as text or as JSON lines (default: text)",
    )
    serve.add_argument(
        "--log-file",
        metavar="PATH",
        help="append the server's log to this file, rotated by size (default: standard error)",
    )
    serve.add_argument(
        "--log-rotate-bytes",
        type=_positive,
        default=10 * 2**20,
        metavar="N",
        help="rotate --log-file when a write finds it this long (default: 10 MiB)",
    )
    serve.add_argument(
        "--log-keep",
        type=_positive,
        default=10,
        metavar="N",
        help="rotated files of --log-file to keep, PATH.1 the newest (default: 10)",
    )
    serve.add_argument(
        "--payment-delay",
        type=_seconds,
        default=0.0,
        metavar="SECONDS",
        help="make the built-in fake payment provider this slow (testing)",
    )


def serve_parser() -> CheckingParser:
    """`serve`'s options alone, with their defaults: the bottom layer, and the values' checker."""
    parser = CheckingParser(prog=f"{PROG} serve")
    add_db(parser)
    add_serve_options(parser)
    return parser


def serve_args(argv: Sequence[str], environ: Mapping[str, str] | None = None) -> argparse.Namespace:
    """`serve`'s options in `argv`, completed from $WARUNG_..., the --config file and defaults.

    The Namespace `warung-server serve` hands to `server.app.serve`, for other front ends (the
    Twisted plugin). Raises ConfigError naming each bad key; warns about stray variables.
    """
    parser = serve_parser()
    suppress_defaults(parser)
    try:
        given = parser.parse_args(list(argv))
    except argparse.ArgumentError as exc:
        raise ConfigError([str(exc)]) from None
    settled = settle_serve(given, os.environ if environ is None else environ)
    _warn(settled)
    return settled.namespace


def settle_serve(given: argparse.Namespace, environ: Mapping[str, str]) -> Settled:
    """The flags `given` to serve (or config check) completed by the other layers, and checked."""
    settled = settle(serve_parser, given, environ)
    args = settled.namespace
    if args.tls_key and not args.tls_cert:
        raise ConfigError(["tls_key: --tls-key needs --tls-cert"])
    try:
        parse_url(resolve(args.db))
    except DatabaseURLError as exc:
        raise ConfigError([f"db: {exc}"]) from None
    if args.db is None:  # say which database that is
        settled.settings = [
            Setting("db", resolve(None), "default") if s.key == "db" else s
            for s in settled.settings
        ]
    return settled


def _warn(settled: Settled) -> None:
    for warning in settled.warnings:
        say(f"{PROG}: warning: {warning}")


def _port(text: str) -> int:
    if not (text.isascii() and text.isdigit()) or int(text) > 65535:  # "²".isdigit() holds
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (0 to 65535)")
    return int(text)


def _network(text: str) -> IPv4Network | IPv6Network:
    try:
        return ip_network(text, strict=False)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an IP address or CIDR block (10.0.0.5, 10.0.0.0/24, fd00::/8)"
        ) from None


def _positive(text: str) -> int:
    if not (text.isascii() and text.isdigit()) or int(text) == 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive whole number")
    return int(text)


def _seconds(text: str) -> float:
    refusal = argparse.ArgumentTypeError(f"{text!r} is not a number of seconds (0 or more)")
    try:
        seconds = float(text)
    except ValueError:
        raise refusal from None
    if not ZERO_ALLOWED.admits(seconds):
        raise refusal
    return seconds


def _limit(text: str) -> str:
    """`NAME=VALUE` naming a limit of server.limits.Limits and a number; kept as text."""
    try:
        with_overrides(Limits(), [text])
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def run_init(args: argparse.Namespace) -> int:
    where = parse_url(resolve(args.db)).describe()
    db = connect(args.db)
    try:
        say(f"{where}: {what_migrate_did(*migrate(db))}")
        if args.demo:
            try:
                shop = load_demo(db)
            except ShopNotEmpty as exc:
                say(f"{where}: {exc}")
            else:
                say(f"{where}: loaded the demo shop: {shop.products} products")
    finally:
        disconnect(db)
    return 0


def run_import(args: argparse.Namespace) -> int:
    db = open_current(args.db)
    try:
        result = import_products(db, args.file)
    except ImportFailed as exc:
        say(f"{PROG}: {args.file}: {exc}")
        return 1
    except OSError as exc:
        say(f"{PROG}: cannot read {args.file}: {exc.strerror or exc}")
        return 1
    finally:
        disconnect(db)
    say(
        f"imported {args.file}: {result.created} new, {result.updated} updated "
        f"({result.adjusted} with a stock adjustment), {result.unchanged} unchanged"
    )
    return 0


def run_backup(args: argparse.Namespace) -> int:
    where = parse_url(resolve(args.db)).describe()
    written = backup(args.db, args.dest, overwrite=args.force)
    say(f"backed up the {where} to {written}")
    return 0


def run_restore(args: argparse.Namespace) -> int:
    where = parse_url(resolve(args.db)).describe()
    done = restore(args.db, args.src, force=args.force)
    upgraded = "" if done.migrated_to == done.version else f", upgraded to {done.migrated_to}"
    say(
        f"restored {args.src} into the {where}: schema version {done.version}{upgraded}; "
        f"{done.orders} orders, {done.products} products"
    )
    if done.problems:
        say(f"{PROG}: the restored shop does not add up:")
        for problem in done.problems:
            say(f"  {problem}")
        return 1
    return 0


def run_serve(args: argparse.Namespace) -> int:
    settled = settle_serve(args, os.environ)
    _warn(settled)
    from server.service import serve  # the server and Twisted load only for this command

    return serve(settled.namespace)


def run_config_check(args: argparse.Namespace) -> int:
    settled = settle_serve(args, os.environ)
    _warn(settled)
    for line in render(settled.settings):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
