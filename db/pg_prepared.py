"""Server-side prepared statements for the hot paths on PostgreSQL.

Parsing and planning are most of what a short statement costs PostgreSQL: on the bench
machine an UPDATE by primary key cost 41 µs of its CPU sent as text and 24 µs as
`EXECUTE` of a prepared statement (ten to a round trip). Each connection prepares a
statement the first time it runs it (`PREPARE` in a round trip of its own, once per
connection and statement) and from then on sends `EXECUTE name(args)`, its arguments bound
by psycopg2 as for any statement. A prepared statement outlives a rolled-back transaction,
and a connection's prepared names are kept on the connection object itself
(`PreparingConnection`), so a pooled connection that moves to another thread, or is
replaced, never claims a name it has not prepared. What a client can vary (the length of an
`IN` list, an id beyond `integer`) is sent as text, and a connection prepares at most
`MAX_PREPARED` statements, so prepared statements are bounded per connection.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import peewee as pw
import psycopg2.extensions

from db.held_statements import send_held

MAX_PARAMS = 16  # more is a list of ids, whose length varies: sent as text
MAX_PREPARED = 256  # per connection; later statements are sent as text
PREPARABLE = ("SELECT", "INSERT", "UPDATE", "DELETE", "WITH")
INT_RANGE = range(-(2**31), 2**31)


class PreparingConnection(psycopg2.extensions.connection):
    """A psycopg2 connection that remembers the statements it has prepared."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.prepared: set[str] = set()


@lru_cache(maxsize=4 * MAX_PREPARED)
def _statement(text: str, types: tuple[str, ...]) -> tuple[str, bytes, str]:
    """A statement with `?` placeholders: its name (from its text and types, so it is the
    same after this cache forgot it), its PREPARE and its EXECUTE with psycopg2's `%s`."""
    digest = hashlib.blake2b(f"{text}\0{types}".encode(), digest_size=12).hexdigest()
    name = f"warung_{digest}"
    head, *rest = text.split("?")
    body = head + "".join(f"${i}{part}" for i, part in enumerate(rest, 1))
    declared = f"({', '.join(types)})" if types else ""
    args = f"({', '.join(['%s'] * len(rest))})" if rest else ""
    return name, f"PREPARE {name}{declared} AS {body}".encode(), f"EXECUTE {name}{args}"


def _types(params: Sequence[Any]) -> tuple[str, ...] | None:
    """The parameters' types as psycopg2's literals had them: an int is an `integer`; any
    other value takes the type its place in the statement gives it. None if an int is
    beyond `integer` (its literal was a `bigint`): such a statement is sent as text."""
    types = []
    for value in params:
        if type(value) is not int:
            types.append("unknown")
        elif value in INT_RANGE:
            types.append("integer")
        else:
            return None
    return tuple(types)


def prepared(db: pw.Database, text: str, params: Sequence[Any]) -> str | None:
    """`text` (`?` placeholders) as an EXECUTE of `params` to send on this thread's
    connection, prepared there first if need be. None to send it as text: a statement that
    cannot be prepared (SET, LOCK...), has many parameters or an int beyond `integer`, a
    connection that keeps no prepared statements or has `MAX_PREPARED` already. So what a
    client sends cannot make a connection prepare statements without end."""
    conn = db.connection()
    known: set[str] | None = getattr(conn, "prepared", None)
    if known is None or len(params) > MAX_PARAMS or not text.startswith(PREPARABLE):
        return None
    types = _types(params)
    if types is None:
        return None
    name, prepare, call = _statement(text, types)
    if name not in known:
        if len(known) >= MAX_PREPARED:
            return None
        send_held(db)  # what waits (a rollback to a savepoint, say) must run before
        with pw.__exception_wrapper__:  # type: ignore[attr-defined]  # peewee-stubs omit it
            conn.cursor().execute(prepare)
        known.add(name)
    return call
