"""Cart rules in process, each step's answer and what the database holds after it."""

from __future__ import annotations

from typing import Any

import pytest
from twisted.internet.defer import Deferred

from db.models import CartLine, Category, Product
from protocol.errors import ErrorCode
from protocol.ops import MAX_MONEY
from protocol.rules import MAX_QTY
from server.dispatch import Identity
from server.services.cart import LINE_COST_RULE, MAX_LINES, CartService
from tests.services.inline_db import CURRENCY, InlineDatabase, Shop, ask, error, result


@pytest.fixture
def cart(dbx: InlineDatabase) -> CartService:
    return CartService(dbx, CURRENCY)


def lines(who: Identity) -> list[tuple[int, int]]:
    """The customer's cart as stored: (product id, qty) in the order added."""
    found = CartLine.select().where(CartLine.user == who.user_id).order_by(CartLine.id)
    return [(line.product_id, line.qty) for line in found]


def add(cart: CartService, who: Identity, product_id: int, qty: int) -> Deferred[Any]:
    return ask(cart.add, who, "cart.add", product_id=product_id, qty=qty)


def test_add_adds_to_a_line_set_replaces_it_remove_and_set_zero_drop_it(
    mini_shop: Shop, cart: CartService
) -> None:
    ani, kopi, teh = mini_shop.ani, mini_shop.kopi, mini_shop.teh
    result(add(cart, ani, kopi, 1))
    answer = result(add(cart, ani, kopi, 2))
    assert [(i["product_id"], i["qty"]) for i in answer["items"]] == [(kopi, 3)]
    assert (answer["total"], answer["count"], answer["currency"]) == (3 * 17500, 3, CURRENCY)

    result(add(cart, ani, teh, 1))
    answer = result(ask(cart.set, ani, "cart.set", product_id=kopi, qty=1))
    assert lines(ani) == [(kopi, 1), (teh, 1)], "set keeps the line's place"
    assert answer["total"] == 17500 + 9000

    result(ask(cart.set, ani, "cart.set", product_id=teh, qty=0))
    assert lines(ani) == [(kopi, 1)]
    answer = result(ask(cart.remove, ani, "cart.remove", product_id=kopi))
    assert lines(ani) == [] and answer == {
        "items": [],
        "total": 0,
        "currency": CURRENCY,
        "count": 0,
    }


def test_each_answer_is_the_cart_as_read_afresh(mini_shop: Shop, cart: CartService) -> None:
    """The change is applied to the cart read before it, not read again: it must agree."""
    ani = mini_shop.ani
    steps = [
        (cart.add, "cart.add", {"product_id": mini_shop.teh, "qty": 2}),
        (cart.add, "cart.add", {"product_id": mini_shop.kopi, "qty": 1}),
        (cart.add, "cart.add", {"product_id": mini_shop.teh, "qty": 1}),
        (cart.set, "cart.set", {"product_id": mini_shop.kopi, "qty": 4}),
        (cart.remove, "cart.remove", {"product_id": mini_shop.teh}),
    ]
    for handler, op, args in steps:
        answer = result(ask(handler, ani, op, **args))
        assert answer == result(ask(cart.get, ani, "cart.get")), (op, args)


def test_a_line_over_the_stock_is_refused_and_the_cart_kept(
    mini_shop: Shop, cart: CartService
) -> None:
    ani, kopi = mini_shop.ani, mini_shop.kopi
    result(add(cart, ani, kopi, 4))

    refused = error(add(cart, ani, kopi, 2))

    assert refused.code == ErrorCode.OUT_OF_STOCK
    assert refused.details == {"product_id": kopi, "requested": 6, "available": 5}
    assert lines(ani) == [(kopi, 4)]
    fresh = error(add(cart, ani, mini_shop.teh, 4))
    assert fresh.details == {"product_id": mini_shop.teh, "requested": 4, "available": 3}
    assert lines(ani) == [(kopi, 4)]


def test_a_line_over_the_quantity_limit_is_a_bad_request(
    mini_shop: Shop, cart: CartService
) -> None:
    Product.update(stock=5 * MAX_QTY).where(Product.id == mini_shop.kopi).execute()
    ani = mini_shop.ani
    result(add(cart, ani, mini_shop.kopi, MAX_QTY))

    refused = error(add(cart, ani, mini_shop.kopi, 1))

    assert refused.code == ErrorCode.BAD_REQUEST and refused.details["field"] == "qty"
    assert str(MAX_QTY) in refused.message
    assert lines(ani) == [(mini_shop.kopi, MAX_QTY)]


def test_a_line_costing_over_10_12_is_a_bad_request(mini_shop: Shop, cart: CartService) -> None:
    ani, kopi, teh = mini_shop.ani, mini_shop.kopi, mini_shop.teh
    Product.update(price=MAX_MONEY // 2 + 1).where(Product.id.in_([kopi, teh])).execute()
    result(add(cart, ani, kopi, 1))

    grown = error(add(cart, ani, kopi, 1))
    new_line = error(add(cart, ani, teh, 2))

    for refused, product_id in ((grown, kopi), (new_line, teh)):
        assert refused.code == ErrorCode.BAD_REQUEST
        assert refused.details == {"field": "qty", "rule": LINE_COST_RULE, "product_id": product_id}
    assert lines(ani) == [(kopi, 1)]


def test_an_archived_or_unknown_product_is_not_found(mini_shop: Shop, cart: CartService) -> None:
    ani, kopi = mini_shop.ani, mini_shop.kopi
    result(add(cart, ani, kopi, 1))
    Product.update(archived=True).where(Product.id.in_([kopi, mini_shop.teh])).execute()

    in_cart = error(add(cart, ani, kopi, 1))
    new_line = error(add(cart, ani, mini_shop.teh, 1))
    unknown = error(add(cart, ani, 9999, 1))

    for refused, product_id in ((in_cart, kopi), (new_line, mini_shop.teh), (unknown, 9999)):
        assert refused.code == ErrorCode.NOT_FOUND
        assert refused.details == {"kind": "product", "id": product_id}
    assert lines(ani) == [(kopi, 1)]
    (line,) = result(ask(cart.get, ani, "cart.get"))["items"]
    assert line["available"] is False, "an archived product in a cart cannot be bought"
    assert line["archived"] is True


def test_a_line_that_stock_fell_below_is_kept_but_not_available(
    mini_shop: Shop, cart: CartService
) -> None:
    result(add(cart, mini_shop.ani, mini_shop.kopi, 3))
    Product.update(stock=2).where(Product.id == mini_shop.kopi).execute()

    (line,) = result(ask(cart.get, mini_shop.ani, "cart.get"))["items"]

    assert (line["qty"], line["stock"], line["available"]) == (3, 2, False)


def test_a_cart_holds_at_most_max_lines_products(
    mini_shop: Shop, cart: CartService, dbx: InlineDatabase
) -> None:
    category = Category.get()
    more = [
        Product.create(
            sku=f"P-{n}",
            name=f"Barang {n}",
            price=100,
            currency=CURRENCY,
            stock=1,
            initial_stock=1,
            category=category,
        ).id
        for n in range(MAX_LINES - 1)
    ]
    for product_id in [mini_shop.kopi, *more]:
        result(add(cart, mini_shop.ani, product_id, 1))

    full = error(add(cart, mini_shop.ani, mini_shop.teh, 1))

    assert full.code == ErrorCode.INVALID_STATE and full.details == {"reason": "cart_full"}
    assert len(lines(mini_shop.ani)) == MAX_LINES
    result(add(cart, mini_shop.ani, mini_shop.kopi, 1))  # a line already there still grows


def test_clear_empties_only_this_customers_cart(mini_shop: Shop, cart: CartService) -> None:
    result(add(cart, mini_shop.ani, mini_shop.kopi, 1))
    result(add(cart, mini_shop.budi, mini_shop.kopi, 2))

    answer = result(ask(cart.clear, mini_shop.ani, "cart.clear"))

    assert answer["items"] == [] and lines(mini_shop.ani) == []
    assert lines(mini_shop.budi) == [(mini_shop.kopi, 2)]
