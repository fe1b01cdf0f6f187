"""A checkout while the same key's checkout runs on another server: it waits for that one
and answers `in_progress`, whether its cart is short once that one took the stock (never
`out_of_stock`: issue 19, item 3, the refusal that comes before the order is written) or
not (it takes none). Its key's claim goes with the statement that reads its cart and key
(`idempotency.claim_first`), waits there for the other server's commit, and then reads the
key as that server left it: with its order."""

import threading
from typing import Any

import peewee as pw
import psycopg2
import pytest
from twisted.python.failure import Failure

from db.models import CartLine, Order, Product, User
from protocol.errors import Conflict
from server.pg_batch import Job, run_batch
from server.services.order_jobs import begin_checkout
from tests.e2e.harness import wait_until
from tests.server.test_register_race import race, waits_for


def kopi_in_cart(database: pw.Database, stock: int, archived: bool = False) -> tuple[int, int]:
    """A customer with one Kopi of `stock` units in their cart: their id and the product's.
    Skips on SQLite, whose one writer never runs two jobs at once."""
    if not isinstance(database, pw.PostgresqlDatabase):
        pytest.skip("one writer on SQLite: jobs never overlap")
    customer = User.create(username="ani", password_hash="x", role="customer").id
    product = Product.create(
        sku="KOPI",
        name="Kopi",
        price=17_500,
        currency="IDR",
        stock=stock,
        initial_stock=stock,
        archived=archived,
    ).id
    CartLine.create(user=customer, product=product, qty=1)
    return customer, product


@pytest.mark.pg
@pytest.mark.parametrize("stock", [1, 5], ids=["short cart", "full cart"])
def test_a_checkout_waits_for_its_key_claimed_on_another_server(database: pw.Database, stock):
    customer, product = kopi_in_cart(database, stock)

    def checkout() -> Any:
        try:
            return begin_checkout(database, customer, "k", "print", "card", "IDR", "fake")
        except Conflict as refused:
            return refused

    begun, outcome = race(database, checkout, checkout)

    assert begun["order"]["status"] == "pending" and isinstance(outcome, Conflict), outcome
    assert outcome.details == {"field": "idempotency_key", "reason": "in_progress"}
    assert Product.get_by_id(product).stock == stock - 1, "the other server's unit, no more"
    assert [order.id for order in Order.select()] == [begun["order"]["id"]]


@pytest.mark.pg
@pytest.mark.parametrize("archived", [False, True], ids=["claim sent with the stock", "short"])
def test_a_checkout_in_a_write_batch_waits_for_its_key_claimed_on_another_server(
    database: pw.Database, db_url: str, archived: bool
):
    """As the PostgreSQL writer runs it (`run_batch`, its claim waiting for the statement
    that reads its cart and key), against a key claimed with its order in a transaction
    still open elsewhere: once that one commits, `in_progress`, no order written and no unit
    taken. A short cart (an archived line) is not refused for it: the key answers."""
    customer, product = kopi_in_cart(database, 5, archived)
    elsewhere = psycopg2.connect(db_url)
    try:
        with elsewhere.cursor() as cursor:
            cursor.execute(
                "WITH theirs AS (INSERT INTO orders (customer_id, status, channel, total, "
                "currency, idempotency_key) VALUES (%s, 'pending', 'online', 17500, 'IDR', 'k') "
                "RETURNING id) INSERT INTO idempotency_keys (user_id, key, fingerprint, "
                "order_id) SELECT %s, 'k', 'print', id FROM theirs RETURNING pg_backend_pid()",
                (customer, customer),
            )
            ((their_pid,),) = cursor.fetchall()
        outcome: list[Any] = []
        job = Job(begin_checkout, (customer, "k", "print", "card", "IDR", "fake"))
        batch = threading.Thread(target=lambda: outcome.append(batch_of(database, job)))
        batch.start()
        wait_until(lambda: waits_for(database, their_pid), 30.0, what="the batch waits")
        elsewhere.commit()
        batch.join(30)
    finally:
        elsewhere.close()
    (settled,) = outcome
    assert isinstance(settled, Failure) and isinstance(settled.value, Conflict), settled
    assert settled.value.details == {"field": "idempotency_key", "reason": "in_progress"}
    assert Product.get_by_id(product).stock == 5 and Order.select().count() == 1


def batch_of(database: pw.Database, job: Job) -> Any:
    """`job`'s outcome, run alone in a write batch on this thread's connection."""
    try:
        ((_, outcome),), _ = run_batch(database, [job])
        return outcome
    finally:
        database.close()
