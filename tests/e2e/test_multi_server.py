"""Several servers on one PostgreSQL: checkouts racing on one key, restarts beside work."""

import asyncio

import pytest

from protocol.client import AsyncClient
from protocol.errors import Conflict
from tests.e2e.harness import ServerProcess
from tests.e2e.shopdb import facts, init_demo

CARD = {"method": "card", "token": "tok"}
pytestmark = pytest.mark.pg


@pytest.fixture
def two_servers(pg_schema_url):
    init_demo(pg_schema_url)
    first = ServerProcess(pg_schema_url, "--payment-delay", "2").start()
    second = ServerProcess(pg_schema_url, "--payment-delay", "2").start()
    second.passwords = first.passwords
    yield first, second
    first.stop()
    second.stop()


async def customer_on(server: ServerProcess, token: str | None = None) -> AsyncClient:
    client = AsyncClient("127.0.0.1", server.port)
    await client.connect()
    if token:
        await client.resume(token)
    else:
        await client.login("customer", server.passwords["customer"])
    return client


def test_one_key_on_two_servers_at_once_makes_one_order(two_servers, pg_schema_url):
    first, second = two_servers

    async def run():
        here = await customer_on(first)
        there = await customer_on(second, here.token)
        product = next(p for p in (await here.call("catalog.list"))["items"] if p["stock"] > 3)
        await here.call("cart.add", product_id=product["id"])
        outcomes = await asyncio.gather(
            here.call("order.checkout", idempotency_key="both", payment=CARD),
            there.call("order.checkout", idempotency_key="both", payment=CARD),
            return_exceptions=True,
        )
        paid = [o for o in outcomes if isinstance(o, dict)]
        refused = [o for o in outcomes if isinstance(o, Exception)]
        assert len(paid) == 1 and paid[0]["status"] == "paid", outcomes
        assert len(refused) == 1 and isinstance(refused[0], Conflict), outcomes
        assert refused[0].details == {"field": "idempotency_key", "reason": "in_progress"}
        again = await there.call("order.checkout", idempotency_key="both", payment=CARD)
        assert again["id"] == paid[0]["id"]
        for client in (here, there):
            await client.close()
        return product

    product = asyncio.run(run())
    found = facts(pg_schema_url, product["id"])
    assert found["orders"] == {"paid": 1} and found["problems"] == []


def test_a_server_starting_leaves_another_servers_pending_checkout_alone(
    two_servers, pg_schema_url
):
    first, second = two_servers

    async def run():
        here = await customer_on(first)
        product = next(p for p in (await here.call("catalog.list"))["items"] if p["stock"] > 3)
        await here.call("cart.add", product_id=product["id"])
        checkout = asyncio.create_task(here.checkout(CARD, "slow-one"))
        while not facts(pg_schema_url, product["id"])["orders"]:
            await asyncio.sleep(0.02)
        await asyncio.to_thread(second.restart)  # starts while the payment is running
        order = await checkout
        await here.close()
        return product, order

    product, order = asyncio.run(run())
    assert order["status"] == "paid"
    assert facts(pg_schema_url, product["id"])["orders"] == {"paid": 1}
