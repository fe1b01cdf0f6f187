"""Invariant 3: a checkout retried with its key returns the same order and charges once."""

from concurrent.futures import ThreadPoolExecutor

import pytest

from protocol.errors import Conflict, InvalidState, PaymentDeclined, RateLimited
from tests.e2e.harness import wait_until
from tests.e2e.shopdb import facts, init_demo

CARD = {"method": "card", "token": "tok"}


def in_stock(client, skip=0):
    items = client.call("catalog.list", limit=100)["items"]
    return [p for p in items if p["stock"] >= 10][skip]


def orders_for(url, product_id):
    return facts(url, product_id)["orders"]


def test_same_key_twice_gives_the_same_order_and_takes_stock_once(shop):
    with shop.client("customer") as c:
        product = in_stock(c, 0)
        c.call("cart.add", product_id=product["id"], qty=2)
        first = c.checkout(CARD, idempotency_key="same-key-1")
        again = c.checkout(CARD, idempotency_key="same-key-1")
        assert again["id"] == first["id"]
        assert c.call("catalog.get", product_id=product["id"])["stock"] == product["stock"] - 2
        c.call("cart.add", product_id=product["id"])
        with pytest.raises(Conflict) as reused:
            c.checkout({"method": "ewallet", "token": "other"}, idempotency_key="same-key-1")
        assert reused.value.details["field"] == "idempotency_key"
        c.call("cart.clear")


def test_a_declined_key_may_be_retried_and_loses_nothing(shop):
    with shop.client("customer") as c:
        product = in_stock(c, 1)
        c.call("cart.clear")
        c.call("cart.add", product_id=product["id"], qty=3)
        with pytest.raises(PaymentDeclined) as declined:
            c.checkout({"method": "card", "token": "decline"}, idempotency_key="retry-me")
        assert declined.value.details["order_id"] > 0
        assert c.call("catalog.get", product_id=product["id"])["stock"] == product["stock"]
        assert c.call("cart.get")["count"] == 3
        order = c.checkout(CARD, idempotency_key="retry-me")
        assert order["status"] == "paid"


def test_retry_on_a_new_connection_after_the_first_was_cut(slow_shop):
    with slow_shop.client("customer") as c:
        product = in_stock(c, 2)
        c.call("cart.add", product_id=product["id"])
        token = c.aio.token
    raw = slow_shop.raw()
    assert raw.call("auth.resume", token=token)["ok"]
    raw.request("order.checkout", idempotency_key="cut-1", payment=CARD)
    raw.close()  # gone before the answer
    with slow_shop.client() as again:
        again.resume(token)
        order = again.checkout(CARD, idempotency_key="cut-1")
        assert order["status"] == "paid"
        assert orders_for(slow_shop.db_url, product["id"]) == {"paid": 1}
        assert again.call("catalog.get", product_id=product["id"])["stock"] == product["stock"] - 1


def test_a_second_checkout_of_a_cart_being_paid_for_is_refused_not_charged_again(slow_shop):
    """Two windows press Pay, each with a key of its own: the cart is bought once."""
    with slow_shop.client("customer") as c:
        product = in_stock(c, 4)
        c.call("cart.add", product_id=product["id"])
        with ThreadPoolExecutor(1) as pool:
            first = pool.submit(c.checkout, CARD, "window-1")
            wait_until(
                lambda: orders_for(slow_shop.db_url, product["id"]) == {"pending": 1},
                what="the first checkout being paid for",
            )
            with pytest.raises(InvalidState) as second:
                c.checkout(CARD, idempotency_key="window-2")
            paid = first.result()
        assert second.value.details == {"reason": "checkout_pending", "order_id": paid["id"]}
        assert orders_for(slow_shop.db_url, product["id"]) == {"paid": 1}
        assert c.call("catalog.get", product_id=product["id"])["stock"] == product["stock"] - 1
        with pytest.raises(InvalidState) as after:
            c.checkout(CARD, idempotency_key="window-2")  # its key was left free
        assert after.value.details == {"reason": "empty_cart"}, "the cart was bought"


def test_concurrent_retries_wait_for_the_first_and_share_its_order(slow_shop):
    with slow_shop.client("customer") as c:
        product = in_stock(c, 3)
        c.call("cart.add", product_id=product["id"])
        with ThreadPoolExecutor(3) as pool:
            tries = [pool.submit(c.checkout, CARD, "together-1") for _ in range(3)]
        orders = [t.result() for t in tries]  # re-raises what any of the three raised
        assert [o["status"] for o in orders] == ["paid"] * 3
        assert len({o["id"] for o in orders}) == 1
        assert orders_for(slow_shop.db_url, product["id"]) == {"paid": 1}


def test_retry_after_a_restart_returns_the_same_order(fresh_shop):
    with fresh_shop.client("customer") as c:
        product = in_stock(c, 0)
        c.call("cart.add", product_id=product["id"])
        first = c.checkout(CARD, idempotency_key="across-restart")
        token = c.aio.token
    fresh_shop.restart()
    with fresh_shop.client() as c:
        c.resume(token)
        assert c.checkout(CARD, idempotency_key="across-restart")["id"] == first["id"]
        assert wait_until(lambda: orders_for(fresh_shop.db_url, product["id"])) == {"paid": 1}


def test_a_paid_checkout_repeated_after_the_declines_ran_out_gets_its_order(servers, db_url):
    """On SQLite and PostgreSQL: the repeat is answered from its stored order (a read),
    where a new checkout is refused for the account's declines."""
    init_demo(db_url)
    shop = servers.start("--limit", "declines_per_account_per_hour=1", db_url=db_url)
    with shop.client("customer") as c:
        product = in_stock(c, 3)
        c.call("cart.add", product_id=product["id"])
        first = c.checkout(CARD, idempotency_key="paid-then-lost")
        c.call("cart.add", product_id=product["id"])
        with pytest.raises(PaymentDeclined):
            c.checkout({"method": "card", "token": "decline"}, idempotency_key="declined")
        again = c.checkout(CARD, idempotency_key="paid-then-lost")
        assert (again["id"], again["status"]) == (first["id"], "paid")
        with pytest.raises(RateLimited) as refused:
            c.checkout(CARD, idempotency_key="new")
        assert refused.value.details["reason"] == "declines"
    assert orders_for(db_url, product["id"]) == {"paid": 1, "cancelled": 1}
