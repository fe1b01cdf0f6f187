"""`warung-server`: set up and run the shop's server.

Exit status: 0 done; 1 the command could not do its work (database unreachable, user exists,
file rejected, ...); 2 the command line or an argument is wrong. Messages go to stderr.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

import peewee as pw

from db.accounts import UnknownUser, UserExists, create_user, set_disabled
from db.backup import BackupError, backup
from db.connect import DatabaseUnavailable, connect, disconnect
from db.demo import ShopNotEmpty, load_demo
from db.importer import ImportFailed, import_products
from db.migrations import MigrationError, check_version, migrate
from db.url import DatabaseURLError, parse_url, resolve
from protocol.rules import DEFAULT_PORT, ROLES, password_problem, username_problem

PROG = "warung-server"


class UsageError(Exception):
    """A bad argument value that argparse could not catch (exit status 2)."""


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except (DatabaseURLError, UsageError) as exc:
        say(f"{PROG}: {exc}")
        return 2
    except (DatabaseUnavailable, MigrationError, BackupError) as exc:
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

    init = _command(commands, "init", run_init, "create the database schema or upgrade it")
    init.add_argument("--demo", action="store_true", help="load the demo shop if it is empty")

    user = commands.add_parser("user", help="manage user accounts")
    user_commands = user.add_subparsers(dest="user_command", required=True, metavar="COMMAND")
    add = _command(user_commands, "add", run_user_add, "create a user")
    add.add_argument("name", help="the username (stored lowercase)")
    add.add_argument("--role", required=True, choices=ROLES)
    add.add_argument(
        "--password-stdin",
        action="store_true",
        required=True,
        help="read the password from the first line of standard input",
    )
    for verb, summary in (
        ("disable", "disable a user: its sessions end, also on running servers"),
        ("enable", "let a disabled user sign in again"),
    ):
        switch = _command(user_commands, verb, run_user_disable, summary)
        switch.add_argument("name", help="the username")

    imports = _command(
        commands, "import-products", run_import, "add or update products from a CSV file"
    )
    imports.add_argument(
        "file", type=Path, help="CSV with header sku,name,description,category,price,stock"
    )

    back = _command(commands, "backup", run_backup, "copy the database to a backup file")
    back.add_argument("dest", type=Path, help="the backup file to write")
    back.add_argument("--force", action="store_true", help="replace DEST if it exists")

    serve = _command(commands, "serve", run_serve, "run the server")
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
        "--limit",
        action="append",
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
        "--payment-delay",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="make the built-in fake payment provider this slow (testing)",
    )
    return parser


def _command(
    commands: argparse._SubParsersAction,
    name: str,
    run: Callable[[argparse.Namespace], int],
    summary: str,
) -> argparse.ArgumentParser:
    parser = commands.add_parser(name, help=summary, description=summary)
    parser.add_argument("--db", metavar="URL", help="database URL (default: $WARUNG_DB)")
    parser.set_defaults(run=run)
    return parser


def _port(text: str) -> int:
    if not (text.isascii() and text.isdigit()) or int(text) > 65535:  # "²".isdigit() holds
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (0 to 65535)")
    return int(text)


def _open_current(url: str | None) -> pw.Database:
    """The existing database at `url`, which must already be at this warung's schema version."""
    db = connect(url, create=False)
    try:
        check_version(db)
    except MigrationError:
        disconnect(db)
        raise
    return db


def run_init(args: argparse.Namespace) -> int:
    where = parse_url(resolve(args.db)).describe()
    db = connect(args.db)
    try:
        before, after = migrate(db)
        if before == 0:
            say(f"{where}: created the schema (version {after})")
        elif before < after:
            say(f"{where}: upgraded the schema from version {before} to {after}")
        else:
            say(f"{where}: the schema is up to date (version {after})")
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


def run_user_add(args: argparse.Namespace) -> int:
    name = args.name.lower()
    problem = username_problem(name)
    if problem:
        raise UsageError(f"cannot use the name {args.name!r}: {problem}")
    line = sys.stdin.readline()
    if not line:
        raise UsageError("no password on standard input (--password-stdin reads its first line)")
    problem = password_problem(line.rstrip("\r\n"), name)
    if problem:
        raise UsageError(f"cannot use that password: {problem}")
    db = _open_current(args.db)
    try:
        user = create_user(name, line.rstrip("\r\n"), args.role)
    except UserExists as exc:
        say(f"{PROG}: {exc}; choose another name")
        return 1
    finally:
        disconnect(db)
    say(f"created {user.role} {user.username!r} (id {user.id})")
    return 0


def run_user_disable(args: argparse.Namespace) -> int:
    disabled = args.user_command == "disable"
    db = _open_current(args.db)
    try:
        user, ended = set_disabled(args.name, disabled)
    except UnknownUser as exc:
        say(f"{PROG}: {exc}")
        return 1
    finally:
        disconnect(db)
    if disabled:
        say(f"disabled {user.username!r} (id {user.id}); ended {ended} sessions")
    else:
        say(f"enabled {user.username!r} (id {user.id}); it signs in with its password")
    return 0


def run_import(args: argparse.Namespace) -> int:
    db = _open_current(args.db)
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


def run_serve(args: argparse.Namespace) -> int:
    if args.tls_key and not args.tls_cert:
        raise UsageError("--tls-key needs --tls-cert")
    from server.service import serve  # the server and Twisted load only for this command

    return serve(args)


if __name__ == "__main__":
    sys.exit(main())
