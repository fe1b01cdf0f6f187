"""Server-side prepared statements for the hot paths on PostgreSQL.

Parsing and planning are most of what a short statement costs PostgreSQL: on the bench
machine an UPDATE by primary key cost 41 µs of its CPU sent as text and 24 µs as
`EXECUTE` of a prepared statement (ten to a round trip). Each connection prepares a
statement the first time it runs it (`PREPARE` in a round trip of its own, once per
connection and statement) and from then on sends `EXECUTE name(args)`, its arguments bound
by psycopg2 as for any statement. A prepared statement outlives a rolled-back transaction,
and a connection's prepared names are kept on the connection object itself
(`PreparingConnection`), so a pooled connection that moves to another thread, or is
replaced, never claims a name it has not prepared.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from functools import cache
from typing import Any

import peewee as pw
import psycopg2.extensions  # type: ignore[import-untyped]  # no stubs here (types-psycopg2)

from db.held_statements import send_held

_names = itertools.count(1)


class PreparingConnection(psycopg2.extensions.connection):  # type: ignore[misc]
    """A psycopg2 connection that remembers the statements it has prepared."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.prepared: set[str] = set()


PREPARABLE = ("SELECT", "INSERT", "UPDATE", "DELETE", "WITH")


@cache
def _statement(text: str, types: tuple[str, ...]) -> tuple[str, bytes, str]:
    """A statement with `?` placeholders: its name, its PREPARE (its parameters of `types`),
    and its EXECUTE with psycopg2's `%s` for each argument."""
    name = f"warung_{next(_names)}"
    head, *rest = text.split("?")
    body = head + "".join(f"${i}{part}" for i, part in enumerate(rest, 1))
    declared = f"({', '.join(types)})" if types else ""
    args = f"({', '.join(['%s'] * len(rest))})" if rest else ""
    return name, f"PREPARE {name}{declared} AS {body}".encode(), f"EXECUTE {name}{args}"


def _type(value: Any) -> str:
    """A parameter's type, as psycopg2's literal for `value` would have it: an int is an
    `integer`, or a `bigint` beyond its range (so an id no INTEGER column can hold matches
    no row instead of failing to convert); any other value's type is the one its place in
    the statement gives it."""
    if type(value) is int:
        return "integer" if -(2**31) <= value < 2**31 else "bigint"
    return "unknown"


def prepared(db: pw.Database, text: str, params: Sequence[Any]) -> str | None:
    """`text` (`?` placeholders) as an EXECUTE of `params` to send on this thread's
    connection, prepared there first if need be; None for a statement that cannot be
    prepared (SET, LOCK...) or a connection that cannot keep prepared statements."""
    conn = db.connection()
    known: set[str] | None = getattr(conn, "prepared", None)
    if known is None or not text.startswith(PREPARABLE):
        return None
    name, prepare, call = _statement(text, tuple(_type(value) for value in params))
    if name not in known:
        send_held()  # what waits (a rollback to a savepoint, say) must run before
        with pw.__exception_wrapper__:  # type: ignore[attr-defined]  # peewee-stubs omit it
            conn.cursor().execute(prepare)
        known.add(name)
    return call
