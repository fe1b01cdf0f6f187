"""Invariant 4: a committed order survives kill -9; a checkout cut by a crash is settled."""

from tests.e2e.harness import wait_until
from tests.e2e.shopdb import facts, opened

CARD = {"method": "card", "token": "tok"}


def test_an_acknowledged_order_survives_kill_9(fresh_shop):
    with fresh_shop.client("customer") as c:
        product = next(p for p in c.call("catalog.list", limit=50)["items"] if p["stock"] > 2)
        c.call("cart.add", product_id=product["id"], qty=2)
        order = c.checkout(CARD)
        token = c.aio.token
        fresh_shop.kill()
    fresh_shop.start(fresh_shop.port)
    with fresh_shop.client() as c:
        c.resume(token)
        again = c.call("order.get", order_id=order["id"])
        assert again["status"] == "paid" and again["lines"] == order["lines"]
        assert c.call("catalog.get", product_id=product["id"])["stock"] == product["stock"] - 2


def test_a_checkout_killed_during_payment_is_released_at_start(servers):
    server = servers.start("--payment-delay", "30")
    url = server.db_url
    with server.client("customer") as c:
        product = next(p for p in c.call("catalog.list", limit=50)["items"] if p["stock"] > 2)
        c.call("cart.add", product_id=product["id"])
    raw = server.raw("customer")
    raw.request("order.checkout", idempotency_key="k", payment=CARD)
    wait_until(lambda: _pending_orders(url), what="the pending order")
    server.kill()
    raw.close()
    server = servers.start(db_url=url)  # a prompt provider: settling asks it first
    wait_until(lambda: not _pending_orders(url), what="the order settled in the background")
    with server.client("customer") as c:
        assert c.call("catalog.get", product_id=product["id"])["stock"] == product["stock"]
        assert c.call("cart.get")["count"] == 1  # the cart is kept
        [order] = c.call("order.list")["items"]
        assert order["status"] == "cancelled" and order["cancel_reason"] == "interrupted"
    assert facts(url, product["id"])["problems"] == []


def _pending_orders(url):
    with opened(url) as db:
        return db.execute_sql("SELECT count(*) FROM orders WHERE status = 'pending'").fetchone()[0]
