"""Versioned schema migrations.

Each migration is a function in `MIGRATIONS`; version N is `MIGRATIONS[N - 1]`, in the module
`vN`, and its docstring is the description recorded in `schema_version`. A migration is explicit
DDL frozen at the time it was written (never derived from the current models, which move on),
with a few dialect placeholders (`$id`, `$ts`, ...) filled in for SQLite or PostgreSQL (`ddl`).
Add a migration by adding a module and appending its function; never edit one that has shipped.

`migrate()` runs under a lock (PostgreSQL advisory lock, SQLite `BEGIN IMMEDIATE`), so several
servers starting at once against one database migrate it exactly once, and every version is
applied in its own transaction together with its `schema_version` row: a failure leaves the
database at the last version that was fully applied.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import peewee as pw

from db.migrations import v1, v2, v3, v4, v5, v6, v7, v8
from db.migrations.ddl import dialect, run
from db.transactions import write_transaction

# Any constant unique to warung: the key of the PostgreSQL advisory lock held while migrating.
_PG_LOCK_KEY = 0x77617275  # "waru"


class MigrationError(RuntimeError):
    """The database cannot be migrated (see the message)."""


class SchemaTooNew(MigrationError):
    """The database was written by a newer warung than this one."""


class SchemaOutdated(MigrationError):
    """The database needs `warung-server init` (or `serve`) to migrate it first."""


MIGRATIONS: list[Callable[[pw.Database], None]] = [
    v1.core,
    v2.audit,
    v3.hot_paths,
    v4.clerk,
    v5.unused_columns,
    v6.account_security,
    v7.offline_sales,
    v8.pending_by_customer,
]
LATEST = len(MIGRATIONS)

_OUR_TABLES = ("settings", "users", "products", "orders")


def current_version(db: pw.Database) -> int:
    """The schema version of `db`: 0 for a database without warung tables."""
    if not _table_exists(db, "schema_version"):
        return 0
    row = db.execute_sql("SELECT MAX(version) FROM schema_version").fetchone()
    return row[0] or 0


def check_version(db: pw.Database) -> int:
    """Return the version when it is exactly `LATEST`; else raise SchemaTooNew/SchemaOutdated."""
    version = current_version(db)
    if version > LATEST:
        raise _too_new(version)
    if version < LATEST:
        what = "has no warung schema" if version == 0 else f"is at schema version {version}"
        raise SchemaOutdated(
            f"the database {what}; this warung needs version {LATEST}: "
            "run `warung-server init` on it first"
        )
    return version


def what_migrate_did(before: int, after: int) -> str:
    """`migrate`'s outcome in words, for an operator."""
    if before == 0:
        return f"created the schema (version {after})"
    if before < after:
        return f"upgraded the schema from version {before} to {after}"
    return f"the schema is up to date (version {after})"


def migrate(db: pw.Database, target: int | None = None) -> tuple[int, int]:
    """Create or upgrade the schema in place to `target` (default: `LATEST`).

    Returns (version before, version after). Raises `SchemaTooNew` for a database written by
    a newer warung, and `MigrationError` for tables that are not a warung schema.
    """
    target = LATEST if target is None else target
    if not 0 <= target <= LATEST:
        raise ValueError(f"target version must be 0..{LATEST}, not {target}")
    with _locked(db):
        _create_version_table(db)
        start = current_version(db)
        if start > LATEST:
            raise _too_new(start)
        if start == 0 and any(_table_exists(db, t) for t in _OUR_TABLES):
            raise MigrationError(
                "the database has warung-like tables but no schema_version table; "
                "refusing to touch it"
            )
    version = start
    while version < target:
        with _applying(db):
            version = current_version(db)  # another process may have moved it on
            if version >= target:
                break
            step = MIGRATIONS[version]
            step(db)
            version += 1
            p = db.param
            db.execute_sql(
                f"INSERT INTO schema_version (version, description) VALUES ({p}, {p})",
                (version, (step.__doc__ or step.__name__).strip()),
            )
    return start, max(start, version)


def _table_exists(db: pw.Database, table: str) -> bool:
    """Whether `table` exists where unqualified names resolve (PostgreSQL: the search_path)."""
    if dialect(db) == "postgresql":
        return db.execute_sql("SELECT to_regclass(%s) IS NOT NULL", (table,)).fetchone()[0]
    sql = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?"
    return db.execute_sql(sql, (table,)).fetchone() is not None


def _too_new(version: int) -> SchemaTooNew:
    return SchemaTooNew(
        f"the database is at schema version {version} but this warung only knows up to "
        f"{LATEST}: upgrade warung (or restore a backup made by this version)"
    )


def _create_version_table(db: pw.Database) -> None:
    run(
        db,
        """
CREATE TABLE IF NOT EXISTS schema_version (
    version INTEGER PRIMARY KEY,
    description TEXT NOT NULL,
    applied_at $ts NOT NULL DEFAULT $now
);
""",
    )


@contextmanager
def _applying(db: pw.Database) -> Iterator[None]:
    """`_locked`, for applying one version. On SQLite its foreign keys are checked before it
    commits rather than enforced while it runs, as SQLite's procedure for rebuilding a table
    that other tables refer to requires; `PRAGMA foreign_keys` is a no-op inside a
    transaction, so it is switched off before and restored after."""
    if dialect(db) == "postgresql":
        with _locked(db):
            yield
        return
    enforced = db.execute_sql("PRAGMA foreign_keys").fetchone()[0]
    db.execute_sql("PRAGMA foreign_keys = OFF")
    try:
        with _locked(db):
            yield
            broken = db.execute_sql("PRAGMA foreign_key_check").fetchall() if enforced else []
            if broken:
                raise MigrationError(f"the migration would break foreign keys: {broken[:5]}")
    finally:
        db.execute_sql(f"PRAGMA foreign_keys = {int(enforced)}")


@contextmanager
def _locked(db: pw.Database) -> Iterator[None]:
    """A transaction that excludes every other migrating process until it ends."""
    with write_transaction(db):
        if dialect(db) == "postgresql":
            db.execute_sql("SELECT pg_advisory_xact_lock(%s)", (_PG_LOCK_KEY,))
        yield
