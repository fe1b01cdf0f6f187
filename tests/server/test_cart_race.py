"""A cart change racing the paid checkout that empties the bought lines from the cart, on
two PostgreSQL connections as two servers would run them (issue 14, item 10)."""

import peewee as pw
import pytest

from db.models import CartLine, Product, User
from protocol.rules import OrderStatus
from server.services.cart import change_cart
from server.services.order_jobs import begin_checkout, mark_paid
from tests.server.test_register_race import race


@pytest.fixture
def shop(database: pw.Database) -> tuple[int, int]:
    """A customer and a product, on PostgreSQL only (SQLite runs one job at a time)."""
    if not isinstance(database, pw.PostgresqlDatabase):
        pytest.skip("one writer on SQLite: jobs never overlap")
    customer = User.create(username="ani", password_hash="x", role="customer").id
    product = Product.create(
        sku="KOPI", name="Kopi", price=17_500, currency="IDR", stock=10, initial_stock=10
    ).id
    return customer, product


@pytest.mark.pg
def test_an_add_while_its_line_is_being_bought_lands_as_answered(database, shop):
    customer, product = shop
    with database.atomic():
        change_cart(database, customer, product, 1, True, "IDR")
        begun = begin_checkout(database, customer, "k", "print", "card", "IDR", "fake")

    def pay() -> object:
        return mark_paid(database, begun["order"]["id"], "ref-1", OrderStatus.PAID)

    def add() -> object:
        return change_cart(database, customer, product, 1, True, "IDR")

    _, added = race(database, pay, add)  # the add comes while the paid order empties its line
    stored = [(line.product_id, line.qty) for line in CartLine.select()]
    assert [(item["product_id"], item["qty"]) for item in added["items"]] == stored
    assert stored == [(product, 1)], "the bought unit left the cart, the new one is in it"
