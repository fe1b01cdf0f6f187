"""A checkout while the same key's checkout runs on another server: it waits for that one
and answers `in_progress`, whether its cart is short (never `out_of_stock`: issue 19, item
3, the refusal that comes before the order is written) or not (its claim travels with the
stock it takes, and takes none)."""

from typing import Any

import peewee as pw
import pytest

from db.models import CartLine, Order, Product, User
from protocol.errors import Conflict
from server import idempotency, sql
from server.services.order_jobs import begin_checkout
from tests.server.test_register_race import race


@pytest.mark.pg
@pytest.mark.parametrize("stock", [0, 5], ids=["short cart", "full cart"])
def test_a_checkout_waits_for_its_key_claimed_on_another_server(database: pw.Database, stock):
    if not isinstance(database, pw.PostgresqlDatabase):
        pytest.skip("one writer on SQLite: jobs never overlap")
    customer = User.create(username="ani", password_hash="x", role="customer").id
    product = Product.create(
        sku="KOPI", name="Kopi", price=17_500, currency="IDR", stock=stock, initial_stock=stock
    ).id
    CartLine.create(user=customer, product=product, qty=1)

    def claimed_elsewhere() -> bool:  # a checkout of the key, before it takes the stock
        return idempotency.claim(database, customer, "k", "print", sql.now())

    def retried() -> Any:
        try:
            return begin_checkout(database, customer, "k", "print", "card", "IDR", "fake")
        except Conflict as refused:
            return refused

    claimed, outcome = race(database, claimed_elsewhere, retried)

    assert claimed and isinstance(outcome, Conflict), outcome
    assert outcome.details == {"field": "idempotency_key", "reason": "in_progress"}
    assert Product.get_by_id(product).stock == stock, "no unit taken"
    assert Order.select().count() == 0
