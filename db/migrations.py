"""Versioned schema migrations.

Each migration is a function in `MIGRATIONS`; version N is `MIGRATIONS[N - 1]`. A migration is
explicit DDL frozen at the time it was written (never derived from the current models, which
move on), with a few dialect placeholders (`$id`, `$ts`, ...) filled in for SQLite or
PostgreSQL. Add a migration by appending a function; never edit one that has shipped.

`migrate()` runs under a lock (PostgreSQL advisory lock, SQLite `BEGIN IMMEDIATE`), so several
servers starting at once against one database migrate it exactly once, and every version is
applied in its own transaction together with its `schema_version` row: a failure leaves the
database at the last version that was fully applied.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from string import Template

import peewee as pw

from db.transactions import write_transaction

# Any constant unique to warung: the key of the PostgreSQL advisory lock held while migrating.
_PG_LOCK_KEY = 0x77617275  # "waru"

_DIALECT = {
    "sqlite": {
        "id": "INTEGER PRIMARY KEY AUTOINCREMENT",
        "ts": "DATETIME",
        "now": "CURRENT_TIMESTAMP",
        "bool": "INTEGER",
        "false": "0",
        "money": "INTEGER",
        "blob": "BLOB",
    },
    "postgresql": {
        "id": "SERIAL PRIMARY KEY",
        "ts": "TIMESTAMP",
        "now": "(now() AT TIME ZONE 'utc')",
        "bool": "BOOLEAN",
        "false": "FALSE",
        "money": "BIGINT",
        "blob": "BYTEA",
    },
}


class MigrationError(RuntimeError):
    """The database cannot be migrated (see the message)."""


class SchemaTooNew(MigrationError):
    """The database was written by a newer warung than this one."""


class SchemaOutdated(MigrationError):
    """The database needs `warung-server init` (or `serve`) to migrate it first."""


def _dialect(db: pw.Database) -> str:
    return "postgresql" if isinstance(db, pw.PostgresqlDatabase) else "sqlite"


def _run(db: pw.Database, script: str) -> None:
    """Execute `script`: statements separated by `;` at the end of a line."""
    sql = Template(script).substitute(_DIALECT[_dialect(db)])
    for statement in sql.split(";\n"):
        if statement.strip():
            db.execute_sql(statement)


def _v1_core(db: pw.Database) -> None:
    """core tables: settings, users, sessions, catalog, stock, carts, orders, payments"""
    _run(
        db,
        """
CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
INSERT INTO settings (key, value) VALUES
    ('shop_name', 'warung'), ('currency', 'IDR'), ('currency_exponent', '2');

CREATE TABLE users (
    id $id,
    username TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL,
    totp_secret TEXT,
    totp_enabled $bool NOT NULL DEFAULT $false,
    disabled $bool NOT NULL DEFAULT $false,
    failed_logins INTEGER NOT NULL DEFAULT 0,
    locked_until $ts,
    created_at $ts NOT NULL DEFAULT $now,
    CONSTRAINT users_username_key UNIQUE (username),
    CONSTRAINT users_username_lower CHECK (username = lower(username)),
    CONSTRAINT users_role_check CHECK (role IN ('customer', 'clerk', 'admin')),
    CONSTRAINT users_failed_logins_check CHECK (failed_logins >= 0)
);

CREATE TABLE sessions (
    id $id,
    user_id INTEGER NOT NULL REFERENCES users (id),
    token_hash TEXT NOT NULL,
    created_at $ts NOT NULL DEFAULT $now,
    expires_at $ts NOT NULL,
    revoked_at $ts,
    last_seen_at $ts NOT NULL DEFAULT $now,
    CONSTRAINT sessions_token_hash_key UNIQUE (token_hash)
);
CREATE INDEX sessions_user_id ON sessions (user_id);

CREATE TABLE categories (
    id $id,
    name TEXT NOT NULL,
    parent_id INTEGER REFERENCES categories (id),
    CONSTRAINT categories_name_check CHECK (name <> '')
);
CREATE INDEX categories_parent_id ON categories (parent_id);

CREATE TABLE products (
    id $id,
    sku TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    category_id INTEGER REFERENCES categories (id),
    price $money NOT NULL,
    currency TEXT NOT NULL,
    stock INTEGER NOT NULL,
    initial_stock INTEGER NOT NULL,
    version INTEGER NOT NULL DEFAULT 1,
    archived $bool NOT NULL DEFAULT $false,
    created_at $ts NOT NULL DEFAULT $now,
    updated_at $ts NOT NULL DEFAULT $now,
    CONSTRAINT products_sku_key UNIQUE (sku),
    CONSTRAINT products_price_check CHECK (price >= 0),
    CONSTRAINT products_stock_check CHECK (stock >= 0),
    CONSTRAINT products_initial_stock_check CHECK (initial_stock >= 0),
    CONSTRAINT products_version_check CHECK (version >= 1)
);
CREATE INDEX products_category_id_name ON products (category_id, name);
CREATE INDEX products_name ON products (name);

CREATE TABLE orders (
    id $id,
    customer_id INTEGER REFERENCES users (id),
    clerk_id INTEGER REFERENCES users (id),
    status TEXT NOT NULL,
    channel TEXT NOT NULL,
    total $money NOT NULL,
    currency TEXT NOT NULL,
    cancel_reason TEXT,
    idempotency_key TEXT,
    created_at $ts NOT NULL DEFAULT $now,
    updated_at $ts NOT NULL DEFAULT $now,
    CONSTRAINT orders_status_check CHECK (status IN
        ('pending', 'paid', 'shipped', 'delivered', 'cancelled', 'refunded', 'completed')),
    CONSTRAINT orders_channel_check CHECK (channel IN ('online', 'pos')),
    CONSTRAINT orders_total_check CHECK (total >= 0)
);
CREATE INDEX orders_customer_id_id ON orders (customer_id, id);

CREATE TABLE order_lines (
    id $id,
    order_id INTEGER NOT NULL REFERENCES orders (id),
    product_id INTEGER NOT NULL REFERENCES products (id),
    sku TEXT NOT NULL,
    name TEXT NOT NULL,
    qty INTEGER NOT NULL,
    unit_price $money NOT NULL,
    line_total $money NOT NULL,
    refunded_qty INTEGER NOT NULL DEFAULT 0,
    CONSTRAINT order_lines_qty_check CHECK (qty > 0),
    CONSTRAINT order_lines_unit_price_check CHECK (unit_price >= 0),
    CONSTRAINT order_lines_line_total_check CHECK (line_total >= 0),
    CONSTRAINT order_lines_refunded_qty_check CHECK (refunded_qty >= 0 AND refunded_qty <= qty)
);
CREATE INDEX order_lines_order_id ON order_lines (order_id);

CREATE TABLE stock_movements (
    id $id,
    product_id INTEGER NOT NULL REFERENCES products (id),
    kind TEXT NOT NULL,
    delta INTEGER NOT NULL,
    stock_after INTEGER NOT NULL,
    order_id INTEGER REFERENCES orders (id),
    user_id INTEGER REFERENCES users (id),
    reason TEXT,
    created_at $ts NOT NULL DEFAULT $now,
    CONSTRAINT stock_movements_kind_check CHECK (kind IN
        ('sale', 'cancel', 'refund', 'restock', 'adjustment')),
    CONSTRAINT stock_movements_delta_check CHECK (delta <> 0),
    CONSTRAINT stock_movements_stock_after_check CHECK (stock_after >= 0)
);
CREATE INDEX stock_movements_product_id_id ON stock_movements (product_id, id);

CREATE TABLE cart_lines (
    id $id,
    user_id INTEGER NOT NULL REFERENCES users (id),
    product_id INTEGER NOT NULL REFERENCES products (id),
    qty INTEGER NOT NULL,
    added_at $ts NOT NULL DEFAULT $now,
    CONSTRAINT cart_lines_user_id_product_id_key UNIQUE (user_id, product_id),
    CONSTRAINT cart_lines_qty_check CHECK (qty > 0)
);

CREATE TABLE payments (
    id $id,
    order_id INTEGER NOT NULL REFERENCES orders (id),
    provider TEXT NOT NULL,
    method TEXT NOT NULL,
    reference TEXT,
    amount $money NOT NULL,
    status TEXT NOT NULL,
    created_at $ts NOT NULL DEFAULT $now,
    updated_at $ts NOT NULL DEFAULT $now,
    CONSTRAINT payments_amount_check CHECK (amount >= 0),
    CONSTRAINT payments_status_check CHECK (status IN
        ('pending', 'captured', 'declined', 'refunded', 'voided'))
);
CREATE INDEX payments_order_id ON payments (order_id);

CREATE TABLE idempotency_keys (
    id $id,
    user_id INTEGER NOT NULL REFERENCES users (id),
    key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    order_id INTEGER REFERENCES orders (id),
    response $blob,
    created_at $ts NOT NULL DEFAULT $now,
    CONSTRAINT idempotency_keys_user_id_key_key UNIQUE (user_id, key)
);
""",
    )


def _v2_audit(db: pw.Database) -> None:
    """audit log; indexes for sales reports and for an order's stock movements"""
    _run(
        db,
        """
CREATE TABLE audit_log (
    id $id,
    user_id INTEGER,
    action TEXT NOT NULL,
    target TEXT,
    details TEXT NOT NULL DEFAULT '{}',
    created_at $ts NOT NULL DEFAULT $now
);
CREATE INDEX orders_created_at ON orders (created_at);
CREATE INDEX stock_movements_order_id ON stock_movements (order_id);
""",
    )


def _v3_hot_paths(db: pw.Database) -> None:
    """indexes for the checkout's key lookups, pending orders and the catalog's sort order"""
    _run(
        db,
        """
CREATE INDEX idempotency_keys_order_id ON idempotency_keys (order_id);
CREATE INDEX orders_status ON orders (status);
CREATE INDEX products_lower_name_id ON products (lower(name), id);
""",
    )


def _v4_clerk(db: pw.Database) -> None:
    """registers, refunds and their lines; orders' register and tracking reference"""
    _run(
        db,
        """
CREATE TABLE registers (
    id $id,
    station TEXT NOT NULL,
    clerk_id INTEGER NOT NULL REFERENCES users (id),
    status TEXT NOT NULL DEFAULT 'open',
    opened_at $ts NOT NULL DEFAULT $now,
    opening_cash $money NOT NULL,
    closed_at $ts,
    counted_cash $money,
    expected_cash $money,
    CONSTRAINT registers_station_check CHECK (station <> ''),
    CONSTRAINT registers_status_check CHECK (status IN ('open', 'closed')),
    CONSTRAINT registers_opening_cash_check CHECK (opening_cash >= 0),
    CONSTRAINT registers_counted_cash_check CHECK (counted_cash >= 0),
    CONSTRAINT registers_closing_check CHECK (
        (status = 'open' AND closed_at IS NULL AND counted_cash IS NULL
            AND expected_cash IS NULL)
        OR (status = 'closed' AND closed_at IS NOT NULL AND counted_cash IS NOT NULL
            AND expected_cash IS NOT NULL))
);
CREATE UNIQUE INDEX registers_one_open_per_clerk ON registers (clerk_id) WHERE status = 'open';

ALTER TABLE orders ADD COLUMN register_id INTEGER REFERENCES registers (id);
ALTER TABLE orders ADD COLUMN tracking_ref TEXT;
CREATE INDEX orders_register_id ON orders (register_id) WHERE register_id IS NOT NULL;

DROP INDEX order_lines_order_id;
CREATE UNIQUE INDEX order_lines_order_id_product_id ON order_lines (order_id, product_id);

CREATE TABLE refunds (
    id $id,
    order_id INTEGER NOT NULL REFERENCES orders (id),
    user_id INTEGER NOT NULL REFERENCES users (id),
    register_id INTEGER REFERENCES registers (id),
    method TEXT NOT NULL,
    amount $money NOT NULL,
    reason TEXT NOT NULL,
    reference TEXT,
    created_at $ts NOT NULL DEFAULT $now,
    CONSTRAINT refunds_method_check CHECK (method IN ('cash', 'card', 'ewallet')),
    CONSTRAINT refunds_amount_check CHECK (amount >= 0),
    CONSTRAINT refunds_reason_check CHECK (reason <> '')
);
CREATE INDEX refunds_order_id ON refunds (order_id);
CREATE INDEX refunds_register_id ON refunds (register_id) WHERE register_id IS NOT NULL;

CREATE TABLE refund_lines (
    id $id,
    refund_id INTEGER NOT NULL REFERENCES refunds (id),
    product_id INTEGER NOT NULL REFERENCES products (id),
    qty INTEGER NOT NULL,
    amount $money NOT NULL,
    CONSTRAINT refund_lines_qty_check CHECK (qty > 0),
    CONSTRAINT refund_lines_amount_check CHECK (amount >= 0),
    CONSTRAINT refund_lines_refund_id_product_id_key UNIQUE (refund_id, product_id)
);
""",
    )


def _v5_unused_columns(db: pw.Database) -> None:
    """drop users.failed_logins, users.locked_until and sessions.last_seen_at: nothing read them"""
    if _dialect(db) == "postgresql":
        _run(
            db,
            """
ALTER TABLE users DROP CONSTRAINT users_failed_logins_check,
    DROP COLUMN failed_logins, DROP COLUMN locked_until;
ALTER TABLE sessions DROP COLUMN last_seen_at;
""",
        )
        return
    # SQLite cannot drop a column that a table CHECK names: rebuild users with every other
    # column and constraint as version 1 made them (users has no index, trigger or view of its
    # own).
    _sqlite_rebuild(
        db,
        "users",
        """
    id $id,
    username TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL,
    totp_secret TEXT,
    totp_enabled $bool NOT NULL DEFAULT $false,
    disabled $bool NOT NULL DEFAULT $false,
    created_at $ts NOT NULL DEFAULT $now,
    CONSTRAINT users_username_key UNIQUE (username),
    CONSTRAINT users_username_lower CHECK (username = lower(username)),
    CONSTRAINT users_role_check CHECK (role IN ('customer', 'clerk', 'admin'))
""",
    )
    _run(db, "ALTER TABLE sessions DROP COLUMN last_seen_at;")


def _v6_account_security(db: pw.Database) -> None:
    """single-use TOTP steps, recovery codes, sessions' last use, address, client and end"""
    _run(
        db,
        """
ALTER TABLE users ADD COLUMN totp_last_step INTEGER;
ALTER TABLE sessions ADD COLUMN last_used_at $ts;
ALTER TABLE sessions ADD COLUMN address TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN client TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN idle_s INTEGER NOT NULL DEFAULT 2592000;
UPDATE sessions SET last_used_at = created_at;
CREATE TABLE recovery_codes (
    id $id,
    user_id INTEGER NOT NULL REFERENCES users (id),
    code_hash TEXT NOT NULL,
    used_at $ts,
    CONSTRAINT recovery_codes_user_id_code_hash_key UNIQUE (user_id, code_hash)
);
""",
    )


def _v7_offline_sales(db: pw.Database) -> None:
    """offline sales: orders' receipt and offline_at, the shortfall movement kind, shortfalls"""
    if _dialect(db) == "postgresql":
        _run(
            db,
            """
ALTER TABLE stock_movements DROP CONSTRAINT stock_movements_kind_check,
    ADD CONSTRAINT stock_movements_kind_check CHECK (kind IN
        ('sale', 'cancel', 'refund', 'restock', 'adjustment', 'shortfall'));
""",
        )
    else:
        _sqlite_movement_kinds(db)
    _run(
        db,
        """
ALTER TABLE orders ADD COLUMN receipt TEXT;
ALTER TABLE orders ADD COLUMN offline_at $ts;
CREATE UNIQUE INDEX orders_receipt ON orders (receipt) WHERE receipt IS NOT NULL;
CREATE INDEX orders_sold_at ON orders ((COALESCE(offline_at, created_at)));

CREATE TABLE shortfalls (
    id $id,
    product_id INTEGER NOT NULL REFERENCES products (id),
    order_id INTEGER NOT NULL REFERENCES orders (id),
    qty INTEGER NOT NULL,
    created_at $ts NOT NULL DEFAULT $now,
    resolved_at $ts,
    resolved_by INTEGER REFERENCES users (id),
    reason TEXT,
    delta INTEGER,
    CONSTRAINT shortfalls_qty_check CHECK (qty > 0),
    CONSTRAINT shortfalls_order_id_product_id_key UNIQUE (order_id, product_id),
    CONSTRAINT shortfalls_resolution_check CHECK (
        (resolved_at IS NULL AND resolved_by IS NULL AND reason IS NULL AND delta IS NULL)
        OR (resolved_at IS NOT NULL AND resolved_by IS NOT NULL AND reason <> ''
            AND delta IS NOT NULL))
);
CREATE INDEX shortfalls_open ON shortfalls (product_id, id) WHERE resolved_at IS NULL;
""",
    )


def _sqlite_movement_kinds(db: pw.Database) -> None:
    """Allow the `shortfall` kind on SQLite, which cannot change a CHECK in place: rebuild
    stock_movements as version 1 made it (nothing references it) with its indexes."""
    _sqlite_rebuild(
        db,
        "stock_movements",
        """
    id $id,
    product_id INTEGER NOT NULL REFERENCES products (id),
    kind TEXT NOT NULL,
    delta INTEGER NOT NULL,
    stock_after INTEGER NOT NULL,
    order_id INTEGER REFERENCES orders (id),
    user_id INTEGER REFERENCES users (id),
    reason TEXT,
    created_at $ts NOT NULL DEFAULT $now,
    CONSTRAINT stock_movements_kind_check CHECK (kind IN
        ('sale', 'cancel', 'refund', 'restock', 'adjustment', 'shortfall')),
    CONSTRAINT stock_movements_delta_check CHECK (delta <> 0),
    CONSTRAINT stock_movements_stock_after_check CHECK (stock_after >= 0)
""",
        """
CREATE INDEX stock_movements_product_id_id ON stock_movements (product_id, id);
CREATE INDEX stock_movements_order_id ON stock_movements (order_id);
""",
    )


def _sqlite_rebuild(db: pw.Database, table: str, columns: str, indexes: str = "") -> None:
    """Give SQLite's `table` the definition `columns` (with its constraints) and `indexes`.

    SQLite can neither drop a column that a CHECK names nor change a CHECK in place: this is its
    documented procedure (https://sqlite.org/lang_altertable.html#otheralter). The rows keep
    every column the new definition still has, and the AUTOINCREMENT counter moves over so that
    no id is ever reused.
    """
    new = f"{table}_new"
    _run(db, f"CREATE TABLE {new} ({columns});")
    kept = ", ".join(row[1] for row in db.execute_sql(f"PRAGMA table_info({new})"))
    _run(
        db,
        f"""
INSERT INTO {new} ({kept}) SELECT {kept} FROM {table};
DELETE FROM sqlite_sequence WHERE name = '{new}';
UPDATE sqlite_sequence SET name = '{new}' WHERE name = '{table}';
DROP TABLE {table};
ALTER TABLE {new} RENAME TO {table};
{indexes}""",
    )


MIGRATIONS: list[Callable[[pw.Database], None]] = [
    _v1_core,
    _v2_audit,
    _v3_hot_paths,
    _v4_clerk,
    _v5_unused_columns,
    _v6_account_security,
    _v7_offline_sales,
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
    if _dialect(db) == "postgresql":
        return db.execute_sql("SELECT to_regclass(%s) IS NOT NULL", (table,)).fetchone()[0]
    sql = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?"
    return db.execute_sql(sql, (table,)).fetchone() is not None


def _too_new(version: int) -> SchemaTooNew:
    return SchemaTooNew(
        f"the database is at schema version {version} but this warung only knows up to "
        f"{LATEST}: upgrade warung (or restore a backup made by this version)"
    )


def _create_version_table(db: pw.Database) -> None:
    _run(
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
    if _dialect(db) == "postgresql":
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
        if _dialect(db) == "postgresql":
            db.execute_sql("SELECT pg_advisory_xact_lock(%s)", (_PG_LOCK_KEY,))
        yield
