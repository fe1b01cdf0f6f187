"""The whole customer path over a real socket, against a real server process."""

import pytest

from protocol.errors import Conflict, InvalidState, NotFound, OutOfStock, Unauthenticated
from tests.e2e.harness import wait_until

CARD = {"method": "card", "token": "tok_visa"}


def test_register_login_browse_cart_checkout_list_cancel(shop):
    with shop.client() as c:
        assert c.aio.hello["shop"]["currency"] == "IDR"
        user = c.call("auth.register", username="siti", password="rahasia-siti")["user"]
        assert user["role"] == "customer"
        with pytest.raises(Unauthenticated):
            c.call("catalog.list")  # registering does not sign in
        c.login("siti", "rahasia-siti")

        categories = c.call("catalog.categories")["items"]
        assert len(categories) >= 8
        seen = {None}
        for category in categories:  # parents come before their children
            assert category["parent_id"] in seen
            seen.add(category["id"])

        found = c.call("catalog.list", query="kopi", limit=5)["items"]
        assert found and all(
            "kopi" in (p["name"] + p["sku"] + p["description"]).lower() for p in found
        )
        again = c.call("catalog.list", query="KOP kopi  kopi", limit=5)["items"]
        assert again == found, "a word again, or within another, finds what the one word finds"
        product = next(p for p in c.call("catalog.list", limit=200)["items"] if p["stock"] >= 5)
        assert c.call("catalog.get", sku=product["sku"])["id"] == product["id"]

        cart = c.call("cart.add", product_id=product["id"], qty=2)
        assert cart["items"][0]["qty"] == 2 and cart["total"] == 2 * product["price"]
        cart = c.call("cart.set", product_id=product["id"], qty=3)
        assert cart["count"] == 3

        order = c.checkout(CARD)
        assert order["status"] == "paid" and order["total"] == 3 * product["price"]
        assert order["lines"][0]["qty"] == 3
        assert c.call("cart.get")["items"] == []
        assert c.call("catalog.get", product_id=product["id"])["stock"] == product["stock"] - 3

        listed = c.call("order.list")["items"]
        assert [o["id"] for o in listed] == [order["id"]]
        cancelled = c.call("order.cancel", order_id=order["id"])
        assert cancelled["status"] == "cancelled" and cancelled["cancel_reason"] == "customer"
        assert c.call("catalog.get", product_id=product["id"])["stock"] == product["stock"]
        with pytest.raises(InvalidState) as again:
            c.call("order.cancel", order_id=order["id"])
        assert again.value.details["status"] == "cancelled"


def test_resume_on_a_new_connection_and_logout_ends_it(shop):
    with shop.client("customer") as first:
        token = first.aio.token
        with shop.client() as second:
            assert second.resume(token)["user"]["username"] == "customer"
            assert second.call("cart.get")["currency"] == "IDR"
            first.logout()
            wait_until(lambda: _signed_out(second), what="the other connection signed out")
        with shop.client() as third, pytest.raises(Unauthenticated):
            third.resume(token)


def _signed_out(client):
    try:
        client.call("cart.get")
    except Unauthenticated:
        return True
    return False


def test_catalog_pages_are_stable_while_stock_moves(shop):
    with shop.client("customer") as c:
        c.call("cart.clear")
        seen, cursor = [], None
        while True:
            args = {"limit": 37, **({"cursor": cursor} if cursor else {})}
            page = c.call("catalog.list", **args)
            seen += [p["id"] for p in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
            in_stock = [p for p in page["items"] if p["stock"] > 0]
            c.call("cart.add", product_id=in_stock[0]["id"])
            c.checkout(CARD)  # stock changes between pages must not shift them
        first_two_hundred = [p["id"] for p in c.call("catalog.list", limit=200)["items"]]
        assert len(seen) == len(set(seen)) >= 300
        assert seen[:200] == first_two_hundred


def test_cart_refuses_more_than_stock_and_unknown_products(shop):
    with shop.client("customer") as c:
        c.call("cart.clear")
        sold_out = _find(c, lambda p: p["stock"] == 0)
        with pytest.raises(OutOfStock) as short:
            c.call("cart.add", product_id=sold_out["id"])
        assert short.value.details == {
            "product_id": sold_out["id"],
            "requested": 1,
            "available": 0,
        }
        with pytest.raises(NotFound) as missing:
            c.call("cart.add", product_id=999_999)
        assert missing.value.details == {"kind": "product", "id": 999_999}
        with pytest.raises(InvalidState) as empty:
            c.checkout(CARD)
        assert empty.value.details["reason"] == "empty_cart"


def _find(client, predicate):
    cursor = None
    while True:
        page = client.call("catalog.list", limit=200, **({"cursor": cursor} if cursor else {}))
        for product in page["items"]:
            if predicate(product):
                return product
        cursor = page["next_cursor"]
        assert cursor, "no product matches"


def test_the_first_page_of_a_listing_says_how_many_products_match(shop):
    _count_listings(shop)


def test_the_count_on_postgresql(servers, pg_schema_url):
    _count_listings(servers.start(db_url=pg_schema_url))


def _count_listings(shop):
    with shop.client("customer") as c:
        for args in ({}, {"query": "susu"}, {"query": "no such product"}):
            first = c.call("catalog.list", limit=37, **args)
            counted, page = len(first["items"]), first
            while page["next_cursor"] is not None:
                page = c.call("catalog.list", limit=37, cursor=page["next_cursor"], **args)
                assert "total" not in page  # counted once per listing
                counted += len(page["items"])
            assert first["total"] == counted, args
        kopi = next(k for k in c.call("catalog.categories")["items"] if k["name"] == "Kopi & Teh")
        page = c.call("catalog.list", category_id=kopi["id"], query="kopi", limit=1)
        assert page["total"] > 1 and len(page["items"]) == 1


def test_a_checkout_for_a_total_the_cart_no_longer_costs_buys_nothing(shop):
    """The total the customer agreed to travels with the checkout: a line added in another
    window meanwhile makes the cart cost more, so it is refused and nothing changes; the
    new total, agreed to, buys the cart."""
    with shop.client() as window, shop.client() as other:
        window.call("auth.register", username="dewi", password="rahasia-dewi")
        window.login("dewi", "rahasia-dewi")
        other.login("dewi", "rahasia-dewi")
        first, second = [p for p in window.call("catalog.list", limit=50)["items"] if p["stock"]][
            :2
        ]
        shown = window.call("cart.add", product_id=first["id"], qty=1)["total"]
        now = other.call("cart.add", product_id=second["id"], qty=1)["total"]
        stock = {p["id"]: p["stock"] for p in (first, second)}

        with pytest.raises(Conflict) as refused:
            window.checkout(CARD, "agreed-once", expected_total=shown)
        assert refused.value.details == {
            "field": "expected_total",
            "reason": "total_changed",
            "total": now,
        }
        assert window.call("order.list")["items"] == []
        assert window.call("cart.get")["total"] == now
        for product_id, units in stock.items():
            assert window.call("catalog.get", product_id=product_id)["stock"] == units

        order = window.checkout(CARD, "agreed-once", expected_total=now)  # the key stayed free
        assert order["status"] == "paid" and order["total"] == now
        assert window.checkout(CARD, "agreed-once", expected_total=now)["id"] == order["id"]
        for other in ({"expected_total": now + 1}, {}):  # the total is part of the key's call
            with pytest.raises(Conflict) as reused:
                window.checkout(CARD, "agreed-once", **other)
            assert reused.value.details == {"field": "idempotency_key"}
