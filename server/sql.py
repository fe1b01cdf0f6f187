"""Raw SQL for the hot paths, written once with `?` placeholders for both databases.

Peewee's query builder costs about 0.2 ms per query; a statement string reused through
`execute_sql` costs a fraction of that, which is what lets checkouts reach thousands per
second. Statements are plain SQL that SQLite and PostgreSQL both accept; PostgreSQL's
placeholder style is derived once per statement and cached.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from functools import cache
from typing import Any

import peewee as pw

from db import held_statements
from db.pg_prepared import prepared


@cache
def _pg_style(statement: str) -> str:
    return statement.replace("%", "%%").replace("?", "%s")


def _pg_text(db: pw.Database, statement: str, params: Sequence[Any]) -> str:
    """What to send PostgreSQL for `statement`: the EXECUTE of its prepared statement."""
    return prepared(db, statement, params) or _pg_style(statement)


_second: tuple[int, str] = (-1, "")  # the last second `text_time` wrote, and its text


def now() -> str:
    """The current UTC time as a timestamp parameter: the text SQLite stores for a naive UTC
    datetime, which PostgreSQL reads as a TIMESTAMP. Binding it costs a tenth of what
    sqlite3's datetime adapter does, and a write job takes one for all its statements."""
    return text_time(time.time_ns())


def text_time(ns: int) -> str:
    """`ns` (since the epoch) as `str()` of its naive UTC datetime, to the microsecond.

    The text of the second is kept until the next one: making and printing a datetime
    each time was 5% of the writer's CPU in a checkout run (three a checkout). One tuple
    holds the second with its text, so a thread never reads one without the other."""
    global _second
    second, rest = divmod(ns, 1_000_000_000)
    known, text = _second
    if second != known:
        text = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(second))
        _second = (second, text)
    micro = rest // 1000
    return f"{text}.{micro:06d}" if micro else text


def execute(db: pw.Database, statement: str, params: Sequence[Any] = ()) -> Any:
    """Run one statement on this thread's connection and return its cursor.

    SQLite statements go straight to the `sqlite3` connection (peewee runs it in autocommit
    mode and issues BEGIN/SAVEPOINT on the same connection, so transactions hold), with
    errors turned into peewee's classes as `execute_sql` would. Its wrapper is entered only
    for an error: entering and leaving it for every statement cost about a tenth of a
    statement (the writer runs 15 for a checkout).
    """
    if isinstance(db, pw.PostgresqlDatabase):
        return db.execute_sql(_pg_text(db, statement, params), params)
    try:
        return db.connection().execute(statement, params)
    except Exception:
        with pw.__exception_wrapper__:  # type: ignore[attr-defined]  # peewee-stubs omit it
            raise


def later(db: pw.Database, statement: str, params: Sequence[Any] = ()) -> None:
    """Run a statement whose result is never read. In a PostgreSQL write batch it waits and
    goes with the job's next statement, in one round trip (`db.held_statements`)."""
    if isinstance(db, pw.PostgresqlDatabase):
        held_statements.later(db, _pg_text(db, statement, params), params)
    else:
        execute(db, statement, params)


def one(db: pw.Database, statement: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
    return execute(db, statement, params).fetchone()


def rows(db: pw.Database, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    return execute(db, statement, params).fetchall()


def insert(db: pw.Database, statement: str, params: Sequence[Any] = ()) -> int:
    """Run an `INSERT ... RETURNING id` and return the id."""
    return execute(db, statement, params).fetchone()[0]
