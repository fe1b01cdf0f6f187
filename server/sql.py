"""Raw SQL for the hot paths, written once with `?` placeholders for both databases.

Peewee's query builder costs about 0.2 ms per query; a statement string reused through
`execute_sql` costs a fraction of that, which is what lets checkouts reach thousands per
second. Statements are plain SQL that SQLite and PostgreSQL both accept; PostgreSQL's
placeholder style is derived once per statement and cached.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

import peewee as pw

from db.models import utcnow


@cache
def _pg_style(statement: str) -> str:
    return statement.replace("%", "%%").replace("?", "%s")


def now() -> str:
    """The current UTC time as a timestamp parameter: the text SQLite stores for a naive UTC
    datetime, which PostgreSQL reads as a TIMESTAMP. Binding it costs a tenth of what
    sqlite3's datetime adapter does, and a write job takes one for all its statements."""
    return str(utcnow())


def execute(db: pw.Database, statement: str, params: Sequence[Any] = ()) -> Any:
    """Run one statement on this thread's connection and return its cursor.

    SQLite statements go straight to the `sqlite3` connection (peewee runs it in autocommit
    mode and issues BEGIN/SAVEPOINT on the same connection, so transactions hold), with
    errors turned into peewee's classes as `execute_sql` would.
    """
    if isinstance(db, pw.PostgresqlDatabase):
        return db.execute_sql(_pg_style(statement), params)
    with pw.__exception_wrapper__:  # type: ignore[attr-defined]  # peewee-stubs omit it
        return db.connection().execute(statement, params)


def one(db: pw.Database, statement: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
    return execute(db, statement, params).fetchone()


def rows(db: pw.Database, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    return execute(db, statement, params).fetchall()


def insert(db: pw.Database, statement: str, params: Sequence[Any] = ()) -> int:
    """Run an `INSERT ... RETURNING id` and return the id."""
    return execute(db, statement, params).fetchone()[0]
