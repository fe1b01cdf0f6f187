"""Stopping a server: clients are told, work in flight finishes, nothing new starts."""

from tests.e2e.harness import wait_until
from tests.e2e.shopdb import facts

CARD = {"method": "card", "token": "tok"}


def test_sigterm_drains_a_checkout_in_flight_and_tells_clients_to_go(servers):
    server = servers.start("--payment-delay", "1")
    url = server.db_url
    with server.client("customer") as c:
        product = next(p for p in c.call("catalog.list")["items"] if p["stock"] > 2)
        c.call("cart.add", product_id=product["id"])
    raw = server.raw("customer")
    checkout = raw.request("order.checkout", idempotency_key="drain-1", payment=CARD)
    wait_until(lambda: facts(url, product["id"])["orders"], what="the pending order")
    server.proc.terminate()
    notice = raw.receive(lambda m: m.get("event") == "server.shutdown")
    assert notice["data"]["reason"] == "draining"
    late = raw.request("ping")
    assert raw.answer(late)["error"]["details"]["reason"] == "draining"
    answer = raw.answer(checkout)
    assert answer["ok"] and answer["result"]["status"] == "paid"
    assert raw.closed_by_server()
    assert server.proc.wait(30) == 0
    assert facts(url, product["id"])["orders"] == {"paid": 1}
