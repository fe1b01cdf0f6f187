"""What every `warung-server` command shares: its name, how it speaks and fails, and the
`--db` option with the database it opens."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

import peewee as pw

from db.connect import connect, disconnect
from db.migrations import MigrationError, check_version

PROG = "warung-server"


class UsageError(Exception):
    """A bad argument value that argparse could not catch (exit status 2)."""


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def open_current(url: str | None) -> pw.Database:
    """The existing database at `url`, which must already be at this warung's schema version."""
    db = connect(url, create=False)
    try:
        check_version(db)
    except MigrationError:
        disconnect(db)
        raise
    return db


def command(
    commands: argparse._SubParsersAction,
    name: str,
    run: Callable[[argparse.Namespace], int],
    summary: str,
) -> argparse.ArgumentParser:
    parser = commands.add_parser(name, help=summary, description=summary)
    add_db(parser)
    parser.set_defaults(run=run)
    return parser


def add_db(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", metavar="URL", help="database URL (default: $WARUNG_DB)")
