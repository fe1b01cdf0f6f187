import secrets
import threading
from datetime import UTC, timedelta

import peewee as pw
import pytest

from db import migrations
from db.connect import connect, disconnect
from db.migrations import (
    LATEST,
    MigrationError,
    SchemaOutdated,
    SchemaTooNew,
    check_version,
    current_version,
    migrate,
)
from db.models import (
    MODELS,
    AuditLog,
    Order,
    OrderLine,
    Product,
    RecoveryCode,
    Refund,
    RefundLine,
    Register,
    Session,
    Shortfall,
    StockMovement,
    User,
    utcnow,
)
from protocol.codec import packb, unpackb
from server import sql
from server.services.account_sessions import resume_session, token_hash

TABLES = {m._meta.table_name for m in MODELS} | {"schema_version"}


def schema(db):
    """The schema to introspect: peewee 3 looks in `public` unless told otherwise."""
    if isinstance(db, pw.PostgresqlDatabase):
        return db.execute_sql("SELECT current_schema()").fetchone()[0]
    return None


def refused(database, fn):
    """Run `fn` in a transaction and assert the database refuses it."""
    with pytest.raises(pw.IntegrityError), database.atomic():
        fn()


def dump(db, table, columns_of=()):
    """The rows of `table` as dicts; cut to the columns of the rows `columns_of` (dumped before
    a migration added columns)."""
    cursor = db.execute_sql(f"SELECT * FROM {table} ORDER BY 1")
    names = [d[0] for d in cursor.description]
    rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    keep = columns_of[0].keys() if columns_of else names
    return [{k: v for k, v in row.items() if k in keep} for row in rows]


def resume(db, token, now, address="test"):
    """What `auth.resume` finds for `token` at `now` (a naive UTC datetime), as the server
    runs it: its write job, in a transaction, its answer through msgpack."""
    with db.atomic():
        seconds = now.replace(tzinfo=UTC).timestamp()
        found = resume_session(db, token_hash(token), seconds, [address, "test"])
    return unpackb(packb(found))  # as its answer travels from the writer


def without(rows, columns):
    """`rows` (dicts) without `columns`."""
    return [{k: v for k, v in row.items() if k not in columns} for row in rows]


DROPPED_IN_V5 = {"failed_logins", "locked_until", "last_seen_at"}


@pytest.fixture
def empty(db_url):
    db = connect(db_url)
    yield db
    disconnect(db)


def test_creates_then_is_a_no_op(empty):
    assert current_version(empty) == 0
    assert migrate(empty) == (0, LATEST)
    assert set(empty.get_tables(schema=schema(empty))) - {"sqlite_sequence"} == TABLES
    assert migrate(empty) == (LATEST, LATEST)
    assert check_version(empty) == LATEST
    rows = empty.execute_sql("SELECT version, description FROM schema_version ORDER BY 1")
    assert [v for v, _ in rows] == list(range(1, LATEST + 1))


def test_models_match_the_migrated_schema(database):
    for model in MODELS:
        table = model._meta.table_name
        columns = {c.name: c for c in database.get_columns(table, schema=schema(database))}
        fields = {f.column_name: f for f in model._meta.sorted_fields}
        assert columns.keys() == fields.keys(), table
        for name, field in fields.items():
            if not field.primary_key:
                assert columns[name].null == field.null, f"{table}.{name}"


def test_upgrade_from_v1_keeps_data(empty):
    assert migrate(empty, target=1) == (0, 1)
    assert "audit_log" not in empty.get_tables(schema=schema(empty))
    p = empty.param
    empty.execute_sql(
        "INSERT INTO users (username, password_hash, role) VALUES ('sari', 'x', 'customer')"
    )
    empty.execute_sql("INSERT INTO categories (name) VALUES ('Minuman')")
    empty.execute_sql(
        "INSERT INTO products (sku, name, category_id, price, currency, stock, initial_stock)"
        f" VALUES ({p}, {p}, 1, 350000, 'IDR', 10, 12)",
        ("TEH-001", "Teh Botol 450 ml"),
    )
    empty.execute_sql(
        "INSERT INTO orders (customer_id, status, channel, total, currency)"
        " VALUES (1, 'paid', 'online', 700000, 'IDR')"
    )
    empty.execute_sql(
        "INSERT INTO order_lines (order_id, product_id, sku, name, qty, unit_price, line_total)"
        " VALUES (1, 1, 'TEH-001', 'Teh Botol 450 ml', 2, 350000, 700000)"
    )
    empty.execute_sql(
        "INSERT INTO stock_movements (product_id, kind, delta, stock_after, order_id)"
        " VALUES (1, 'sale', -2, 10, 1)"
    )
    later = {
        "schema_version",
        "audit_log",
        "registers",
        "refunds",
        "refund_lines",
        "recovery_codes",
        "shortfalls",
    }
    old = {t: dump(empty, t) for t in TABLES - later}

    assert migrate(empty) == (1, LATEST)
    kept = {t: without(rows, DROPPED_IN_V5) for t, rows in old.items()}
    assert {t: dump(empty, t, columns_of=kept[t]) for t in old} == kept
    assert Product.get(Product.sku == "TEH-001").stock == 10
    AuditLog.create(user_id=1, action="test", target="products:1")
    assert AuditLog.select().count() == 1


def test_refuses_a_newer_schema(database):
    database.execute_sql(
        f"INSERT INTO schema_version (version, description) VALUES ({LATEST + 1}, 'future')"
    )
    with pytest.raises(SchemaTooNew, match=f"version {LATEST + 1}.*up to {LATEST}"):
        migrate(database)
    with pytest.raises(SchemaTooNew):
        check_version(database)


def test_check_version_names_the_fix(empty):
    with pytest.raises(SchemaOutdated, match="warung-server init"):
        check_version(empty)
    migrate(empty, target=1)
    with pytest.raises(SchemaOutdated, match="version 1"):
        check_version(empty)


def test_refuses_foreign_tables_without_a_version(empty):
    empty.execute_sql("CREATE TABLE products (id INTEGER PRIMARY KEY, name TEXT)")
    with pytest.raises(MigrationError, match="no schema_version"):
        migrate(empty)


def test_bad_target(empty):
    with pytest.raises(ValueError, match="target version"):
        migrate(empty, target=LATEST + 1)


def test_concurrent_migrations_apply_each_version_once(db_url):
    dbs = [connect(db_url, bind_models=False) for _ in range(4)]
    errors = []
    barrier = threading.Barrier(len(dbs))

    def run(db):
        barrier.wait()
        try:
            migrate(db)
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            db.close()

    threads = [threading.Thread(target=run, args=(db,)) for db in dbs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    rows = dbs[0].execute_sql("SELECT version FROM schema_version ORDER BY 1").fetchall()
    assert rows == [(v,) for v in range(1, LATEST + 1)]
    for db in dbs:
        disconnect(db)


def test_upgrade_from_v3_adds_the_clerk_tables_and_keeps_orders(empty):
    migrate(empty, target=3)
    empty.execute_sql(
        "INSERT INTO users (username, password_hash, role) VALUES ('sari', 'x', 'customer')"
    )
    empty.execute_sql(
        "INSERT INTO orders (customer_id, status, channel, total, currency)"
        " VALUES (1, 'paid', 'online', 700000, 'IDR')"
    )
    before = dump(empty, "orders")

    assert migrate(empty) == (3, LATEST)
    order = Order.get_by_id(1)
    assert (order.register_id, order.tracking_ref) == (None, None)
    assert dump(empty, "orders", columns_of=before) == before
    assert {"registers", "refunds", "refund_lines"} <= set(empty.get_tables(schema=schema(empty)))


def test_a_clerk_has_at_most_one_open_register(database, make_user):
    clerk, other = make_user(role="clerk"), make_user(role="clerk")
    first = Register.create(station="kasir-1", clerk=clerk, opening_cash=100000)
    refused(database, lambda: Register.create(station="kasir-2", clerk=clerk, opening_cash=0))
    Register.create(station="kasir-2", clerk=other, opening_cash=0)
    closing = {"closed_at": utcnow(), "counted_cash": 90000, "expected_cash": 100000}
    Register.update(status="closed", **closing).where(Register.id == first.id).execute()
    Register.create(station="kasir-1", clerk=clerk, opening_cash=50000)
    assert Register.select().where(Register.clerk == clerk).count() == 2


def test_a_register_is_open_or_closed_with_its_count(database, make_user):
    clerk = make_user(role="clerk")
    refused(
        database,
        lambda: Register.create(station="k", clerk=clerk, opening_cash=0, status="paused"),
    )
    refused(database, lambda: Register.create(station="k", clerk=clerk, opening_cash=-1))
    refused(database, lambda: Register.create(station="", clerk=clerk, opening_cash=0))
    register = Register.create(station="k", clerk=clerk, opening_cash=0)
    refused(  # closed without its count
        database,
        lambda: Register.update(status="closed", closed_at=utcnow()).execute(),
    )
    refused(database, lambda: Register.update(counted_cash=5).execute())  # counted while open
    Register.update(status="closed", closed_at=utcnow(), counted_cash=0, expected_cash=-500).where(
        Register.id == register.id
    ).execute()


def test_refunds_and_their_lines_are_checked(database, make_user, make_product):
    clerk, product = make_user(role="clerk"), make_product()
    order = Order.create(status="completed", channel="pos", total=700000, currency="IDR")
    OrderLine.create(
        order=order,
        product=product,
        sku="s",
        name="n",
        qty=2,
        unit_price=350000,
        line_total=700000,
    )
    refused(  # one line per product in an order, so a refund line names one order line
        database,
        lambda: OrderLine.create(
            order=order, product=product, sku="s", name="n", qty=1, unit_price=1, line_total=1
        ),
    )
    base = {"order": order, "user": clerk, "method": "cash", "amount": 350000, "reason": "rusak"}
    refused(database, lambda: Refund.create(**{**base, "method": "cheque"}))
    refused(database, lambda: Refund.create(**{**base, "amount": -1}))
    refused(database, lambda: Refund.create(**{**base, "reason": ""}))
    refund = Refund.create(**base)
    refused(database, lambda: RefundLine.create(refund=refund, product=product, qty=0, amount=0))
    refused(database, lambda: RefundLine.create(refund=refund, product=product, qty=1, amount=-1))
    RefundLine.create(refund=refund, product=product, qty=1, amount=350000)
    refused(database, lambda: RefundLine.create(refund=refund, product=product, qty=1, amount=1))


def test_upgrade_from_v4_drops_unused_columns_and_keeps_users_and_sessions(empty):
    migrate(empty, target=4)
    for name, role in (("sari", "customer"), ("citra", "clerk"), ("gone", "customer")):
        sql.execute(
            empty,
            "INSERT INTO users (username, password_hash, role) VALUES (?, 'x', ?)",
            (name, role),
        )
    sql.execute(
        empty, "UPDATE users SET failed_logins = 2, locked_until = ? WHERE id = 2", (utcnow(),)
    )
    sql.execute(empty, "DELETE FROM users WHERE username = 'gone'")  # its id is never reused
    token, now = secrets.token_urlsafe(32), utcnow()
    sql.execute(  # as sign-in wrote a session at version 4
        empty,
        "INSERT INTO sessions (user_id, token_hash, created_at, expires_at, last_seen_at) "
        "VALUES (1, ?, ?, ?, ?)",
        (token_hash(token), now, now + timedelta(days=1), now),
    )
    sql.execute(
        empty,
        "INSERT INTO orders (customer_id, clerk_id, status, channel, total, currency)"
        " VALUES (1, 2, 'completed', 'pos', 700000, 'IDR')",
    )
    before = {t: dump(empty, t) for t in ("users", "sessions", "orders")}

    assert migrate(empty) == (4, LATEST)

    for table in ("users", "sessions"):
        columns = {c.name for c in empty.get_columns(table, schema=schema(empty))}
        assert not columns & DROPPED_IN_V5, table
    kept = {t: without(rows, DROPPED_IN_V5) for t, rows in before.items()}
    assert {t: dump(empty, t, columns_of=kept[t]) for t in before} == kept
    resumed = resume(empty, token, now)
    assert resumed is not None and resumed[0] == 1  # session 1
    assert resumed[1]["id"] == 1 and resumed[1]["username"] == "sari"
    assert User.create(username="budi", password_hash="x", role="customer").id == 4
    # users kept every other constraint, and sessions and orders still refer to it
    refused(empty, lambda: User.create(username="Dewi", password_hash="x", role="customer"))
    refused(empty, lambda: User.create(username="dewi", password_hash="x", role="boss"))
    refused(empty, lambda: User.create(username="sari", password_hash="x", role="customer"))
    refused(empty, lambda: Session.create(user=99, token_hash="h", expires_at=now))
    refused(empty, lambda: User.delete().where(User.username == "sari").execute())


def test_a_version_that_would_break_a_foreign_key_is_rolled_back_on_sqlite(tmp_path, monkeypatch):
    """SQLite applies a version with foreign keys checked at its end, not enforced (so that a
    table can be rebuilt): a version that leaves a dangling reference is refused whole."""
    db = connect(f"sqlite:///{tmp_path / 'warung.db'}")
    migrate(db)
    User.create(username="sari", password_hash="x", role="customer")
    Session.create(user=1, token_hash="h", expires_at=utcnow())

    def orphan_the_sessions(db):
        db.execute_sql("DELETE FROM users")

    monkeypatch.setattr(migrations, "MIGRATIONS", [*migrations.MIGRATIONS, orphan_the_sessions])
    monkeypatch.setattr(migrations, "LATEST", LATEST + 1)
    with pytest.raises(MigrationError, match="would break foreign keys"):
        migrate(db)

    assert current_version(db) == LATEST
    assert User.select().count() == 1
    assert db.execute_sql("PRAGMA foreign_keys").fetchone() == (1,)
    disconnect(db)


def test_upgrade_from_v5_keeps_sessions_resumable_and_adds_recovery_codes(empty):
    migrate(empty, target=5)
    sql.execute(
        empty, "INSERT INTO users (username, password_hash, role) VALUES ('sari', 'x', 'customer')"
    )
    token, now = secrets.token_urlsafe(32), utcnow()
    sql.execute(  # as sign-in wrote a session at version 5
        empty,
        "INSERT INTO sessions (user_id, token_hash, created_at, expires_at) VALUES (1, ?, ?, ?)",
        (token_hash(token), now - timedelta(hours=1), now + timedelta(days=1)),
    )

    assert migrate(empty) == (5, LATEST)

    session = Session.get_by_id(1)
    assert session.last_used_at == session.created_at and session.address == ""
    assert User.get_by_id(1).totp_last_step is None
    resumed = resume(empty, token, now, "10.1.2.3")
    assert resumed is not None and resumed[1]["username"] == "sari"
    assert Session.get_by_id(1).address == "10.1.2.3"
    RecoveryCode.create(user=1, code_hash="h")
    refused(empty, lambda: RecoveryCode.create(user=1, code_hash="h"))
    refused(empty, lambda: RecoveryCode.create(user=99, code_hash="g"))


def test_upgrade_from_v6_keeps_movements_and_their_ids_and_adds_shortfalls(empty, db_url):
    migrate(empty, target=6)
    for statement in (
        "INSERT INTO users (username, password_hash, role) VALUES ('ani', 'x', 'clerk')",
        "INSERT INTO categories (name) VALUES ('Minuman')",
        "INSERT INTO products (sku, name, category_id, price, currency, stock, initial_stock)"
        " VALUES ('TEH-001', 'Teh', 1, 350000, 'IDR', 3, 5)",
        "INSERT INTO orders (clerk_id, status, channel, total, currency)"
        " VALUES (1, 'completed', 'pos', 700000, 'IDR')",
        "INSERT INTO stock_movements (product_id, kind, delta, stock_after, order_id)"
        " VALUES (1, 'sale', -2, 3, 1)",
        "DELETE FROM stock_movements",  # the next id must still be 2, not 1 again
        "INSERT INTO stock_movements (product_id, kind, delta, stock_after, order_id)"
        " VALUES (1, 'sale', -2, 3, 1)",
    ):
        sql.execute(empty, statement)
    movements, orders = dump(empty, "stock_movements"), dump(empty, "orders")

    assert migrate(empty) == (6, LATEST)

    assert dump(empty, "stock_movements") == movements
    assert dump(empty, "orders", columns_of=orders) == orders
    order = Order.get_by_id(1)
    assert (order.receipt, order.offline_at) == (None, None)
    made = StockMovement.create(product=1, kind="shortfall", delta=2, stock_after=5, order=1)
    assert made.id == 3
    refused(empty, lambda: StockMovement.create(product=1, kind="theft", delta=1, stock_after=6))
    Shortfall.create(product=1, order=1, qty=2)
    refused(empty, lambda: Shortfall.create(product=1, order=1, qty=1))  # one per line
    refused(empty, lambda: Shortfall.create(product=1, order=1, qty=0))


def test_a_shortfall_is_open_or_resolved_with_its_reason(database, make_user, make_product):
    clerk, product = make_user(role="clerk"), make_product()
    order = Order.create(clerk=clerk, status="completed", channel="pos", total=0, currency="IDR")
    refused(database, lambda: Shortfall.create(product=product, order=order, qty=1, reason="x"))
    short = Shortfall.create(product=product, order=order, qty=1)
    resolved = {"resolved_at": utcnow(), "resolved_by": clerk.id, "delta": 0}
    refused(database, lambda: Shortfall.update(**resolved, reason="").execute())
    Shortfall.update(**resolved, reason="miscount").execute()
    assert Shortfall.get_by_id(short.id).reason == "miscount"


def test_receipts_are_unique_among_orders(database, make_user):
    clerk = make_user(role="clerk")
    made = {"clerk": clerk, "status": "completed", "channel": "pos", "total": 0, "currency": "IDR"}
    Order.create(**made, receipt="K1-1")
    Order.create(**made)
    Order.create(**made)  # many orders without one
    refused(database, lambda: Order.create(**made, receipt="K1-1"))
