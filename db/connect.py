"""Open the database named by a URL, configured the way warung needs it.

SQLite runs in WAL mode with `synchronous=NORMAL`: a committed transaction is in the WAL file
before `COMMIT` returns, so it survives `kill -9` of the process; only an operating-system
crash or power loss can lose the last few commits (`synchronous=FULL` would close that window
at the cost of an fsync per commit; pass `pragmas={"synchronous": "full"}` to choose it).
Readers never block the writer and vice versa; writers wait up to `busy_timeout` for each other.
Temporary data stays in memory (`temp_store=memory`): the writer gives every job a savepoint,
and each savepoint's journal would otherwise go to a temporary file.

PostgreSQL goes through a connection pool (`playhouse.pool.PooledPostgresqlDatabase`, whose
statements may wait for the next round trip: `db.held_statements`); peewee
keeps one connection per thread, so `max_connections` must be at least the number of threads
that use the database at once (the server's worker pool), and no more than the server allows.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import quote

import peewee as pw

from db.held_statements import HoldingPostgresqlDatabase
from db.models import bind
from db.pg_prepared import PreparingConnection
from db.url import DatabaseURL, parse_url, resolve

SQLITE_PRAGMAS: dict[str, object] = {
    "journal_mode": "wal",
    "foreign_keys": 1,
    "busy_timeout": 5000,
    "synchronous": "normal",
    "temp_store": "memory",
}
PG_CONNECT_TIMEOUT_S = 10


class DatabaseUnavailable(RuntimeError):
    """The database cannot be opened or reached; the message names it (without password)."""


def connect(
    url: str | None = None,
    *,
    pragmas: Mapping[str, object] | None = None,
    max_connections: int = 20,
    stale_timeout: int = 300,
    pool_timeout: int = 10,
    create: bool = True,
    bind_models: bool = True,
) -> pw.Database:
    """Open the database at `url` (None: `$WARUNG_DB`, else `sqlite:///warung.db`).

    `pragmas` add to or override `SQLITE_PRAGMAS` (e.g. `{"wal_autocheckpoint": 0}`).
    `max_connections`, `stale_timeout` (seconds before an idle connection is recycled) and
    `pool_timeout` (seconds to wait for a free connection) configure the PostgreSQL pool.
    With `create=False` a missing SQLite file is an error instead of a new empty database.
    The database is opened once to check that it answers, then returned (with the models
    bound to it unless `bind_models=False`).

    Raises `db.url.DatabaseURLError` for a bad URL and `DatabaseUnavailable` when the
    database cannot be opened.
    """
    parsed = parse_url(resolve(url))
    if parsed.kind == "sqlite":
        db = _sqlite(parsed, {**SQLITE_PRAGMAS, **(pragmas or {})}, create)
    else:
        db = HoldingPostgresqlDatabase(
            parsed.dbname,
            max_connections=max_connections,
            stale_timeout=stale_timeout,
            timeout=pool_timeout,
            **_pg_params(parsed),
        )
    _probe(db, parsed, create)
    if bind_models:
        bind(db)
    return db


def disconnect(db: pw.Database) -> None:
    """Close `db`'s connections: every pooled one for PostgreSQL, this thread's for SQLite."""
    if isinstance(db, HoldingPostgresqlDatabase):
        db.close_all()
    else:
        db.close()


def _sqlite(parsed: DatabaseURL, pragmas: Mapping[str, object], create: bool) -> pw.Database:
    if parsed.path == ":memory:" or create:
        return pw.SqliteDatabase(parsed.path, pragmas=dict(pragmas))
    # mode=rw: open an existing file only, never create an empty one by mistake.
    uri = f"file:{quote(str(Path(parsed.path).resolve()))}?mode=rw"
    return pw.SqliteDatabase(uri, pragmas=dict(pragmas), uri=True)


def _pg_params(parsed: DatabaseURL) -> dict[str, object]:
    params: dict[str, object] = {
        "connect_timeout": PG_CONNECT_TIMEOUT_S,
        "connection_factory": PreparingConnection,
    }
    for key, value in (
        ("host", parsed.host),
        ("port", parsed.port),
        ("user", parsed.user),
        ("password", parsed.password),
    ):
        if value is not None:
            params[key] = value
    params.update(parsed.params)
    return params


def _probe(db: pw.Database, parsed: DatabaseURL, create: bool) -> None:
    try:
        db.connect(reuse_if_open=True)
        db.execute_sql("SELECT 1")
    except (pw.DatabaseError, pw.InterfaceError, sqlite3.Error) as exc:
        reason = " ".join(str(exc).split())
        if parsed.password:
            reason = reason.replace(parsed.password, "***")
        if parsed.kind == "postgresql":
            raise DatabaseUnavailable(f"cannot reach {parsed.describe()}: {reason}") from None
        hint = (
            "does its directory exist and is it writable?"
            if create
            else "does it exist (`warung-server init` creates it) and is it writable?"
        )
        raise DatabaseUnavailable(f"cannot open {parsed.describe()}: {reason}; {hint}") from None
    finally:
        if not db.is_closed():
            db.close()
