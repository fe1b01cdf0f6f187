"""Statements that wait for the next round trip (`db.held_statements`) and prepared statements
(`db.pg_prepared`), on the real PostgreSQL: what waits runs before the next statement, raw or
built by peewee, in one round trip with it; an error in it fails that statement; outside a
batch nothing waits; each connection prepares a statement once and keeps it across a rollback."""

from __future__ import annotations

from collections.abc import Iterator

import peewee as pw
import pytest

from db.connect import connect, disconnect
from db.held_statements import holding, later
from db.migrations import migrate
from db.models import Product
from server import sql
from tests.conftest import fresh_pg_schema

pytestmark = pytest.mark.pg
BUMP = "UPDATE products SET version = version + 1 WHERE id = %s"


@pytest.fixture
def pg() -> Iterator[tuple[pw.Database, int]]:
    with fresh_pg_schema() as url:
        db = connect(url)
        migrate(db)
        product = Product.create(
            sku="P", name="100% kopi", price=1, currency="IDR", stock=5, initial_stock=5
        )
        yield db, product.id
        disconnect(db)


def version(db: pw.Database, product: int) -> int:
    return sql.one(db, "SELECT version FROM products WHERE id = ?", (product,))[0]  # type: ignore[index]


def test_outside_a_batch_a_later_statement_runs_at_once(pg):
    db, product = pg
    later(db, BUMP, (product,))
    assert Product.get_by_id(product).version == 2


def test_what_waits_goes_with_the_next_statement_and_runs_before_it(pg):
    db, product = pg
    with holding(db) as held, db.atomic():
        later(db, BUMP, (product,))
        later(db, BUMP, (product,))
        assert held.sends == 0 and len(held.texts) == 3, "the BEGIN waits too"
        assert Product.get_by_id(product).version == 3, "peewee's query went after them"
        assert held.sends == 1 and held.texts == []
        later(db, BUMP, (product,))
    assert held.sends == 2, "the COMMIT carried the last one"
    assert version(db, product) == 4


def test_an_error_in_a_waiting_statement_fails_the_next_one_sent(pg):
    db, product = pg
    with pytest.raises(pw.IntegrityError), holding(db), db.atomic():
        later(db, "UPDATE products SET stock = -1 WHERE id = %s", (product,))
        later(db, BUMP, (product,))
        version(db, product)
    assert version(db, product) == 1 and Product.get_by_id(product).stock == 5


def test_a_rollback_forgets_what_waits(pg):
    db, product = pg
    with holding(db) as held, db.atomic() as transaction:
        later(db, BUMP, (product,))
        transaction.rollback()
        assert held.texts == [b"BEGIN"], "gone; peewee's next transaction's BEGIN waits"
    assert version(db, product) == 1


def test_a_rolled_back_savepoint_forgets_what_waits_inside_it(pg):
    db, product = pg
    with holding(db), db.atomic():
        later(db, BUMP, (product,))
        with pytest.raises(LookupError), db.atomic():  # a savepoint
            later(db, "UPDATE products SET stock = -1 WHERE id = %s", (product,))
            raise LookupError("the job's own error, not the waiting statement's")
        later(db, BUMP, (product,))
    assert version(db, product) == 3, "both BUMPs, around the savepoint"
    assert Product.get_by_id(product).stock == 5, "the one inside it never went out"


def test_another_database_neither_waits_nor_sends_what_waits(pg, new_pg_schema):
    db, product = pg
    with new_pg_schema() as url:
        other = connect(url)
        migrate(other)
        try:
            count = "SELECT count(*) FROM settings WHERE key = 'k'"
            with holding(db) as held, db.atomic():
                later(db, BUMP, (product,))
                later(other, "INSERT INTO settings (key, value) VALUES ('k', 'v')")
                assert other.execute_sql(count).fetchone() == (1,), "it ran at once"
                assert held.sends == 0 and len(held.texts) == 2, "BEGIN and BUMP wait"
        finally:
            disconnect(other)
    assert version(db, product) == 2


def prepared_here(db: pw.Database) -> set[str]:
    rows = db.execute_sql("SELECT statement FROM pg_prepared_statements").fetchall()
    return {statement for (statement,) in rows}


def test_a_hot_path_statement_is_prepared_once_per_connection_and_outlives_a_rollback(pg):
    db, product = pg
    like = "SELECT count(*) FROM products WHERE name LIKE '100%' AND id = ?"
    with db.atomic() as transaction:
        assert sql.one(db, like, (product,)) == (1,)
        transaction.rollback()
    assert sql.one(db, like, (product,)) == (1,), "still prepared after the rollback"
    assert sum("LIKE '100%' AND id = $1" in text for text in prepared_here(db)) == 1
    db.close()  # back to the pool; a new connection prepares again
    db.close_all()
    assert sql.one(db, like, (product,)) == (1,)
    assert sum("LIKE '100%' AND id = $1" in text for text in prepared_here(db)) == 1


def test_what_a_client_can_vary_is_sent_as_text_not_prepared(pg, monkeypatch):
    db, product = pg
    before = prepared_here(db)
    assert sql.one(db, "SELECT id FROM products WHERE id = ?", (2**40,)) is None
    ids = list(range(product, product + 20))  # more parameters than MAX_PARAMS
    marks = ", ".join("?" * len(ids))
    assert sql.rows(db, f"SELECT id FROM products WHERE id IN ({marks})", ids) == [(product,)]
    assert prepared_here(db) == before, "neither was prepared"
    monkeypatch.setattr("db.pg_prepared.MAX_PREPARED", len(db.connection().prepared))
    assert sql.one(db, "SELECT sku FROM products WHERE id = ?", (product,)) == ("P",)
    assert prepared_here(db) == before, "a connection at its limit prepares no more"
