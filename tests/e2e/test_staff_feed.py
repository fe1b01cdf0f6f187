"""Staff see online orders live (order.subscribe), on one server and across two servers on
PostgreSQL; a customer may not subscribe; a shipment's tracking reference reaches the customer."""

import asyncio
from typing import Any

import pytest

from protocol.client import AsyncClient
from protocol.client.link import ORDERS_SNAPSHOT_EVENT, Push
from protocol.errors import Forbidden
from tests.e2e.harness import ServerProcess, wait_until_async
from tests.e2e.proxy import CuttableProxy
from tests.e2e.shopdb import init_demo

CARD = {"method": "card", "token": "tok"}


async def buy_one(customer: AsyncClient) -> dict[str, Any]:
    """A paid order of one unit of a product in stock."""
    items = (await customer.call("catalog.list", limit=50))["items"]
    product = next(p for p in items if p["stock"] > 5)
    await customer.call("cart.clear")
    await customer.call("cart.add", product_id=product["id"])
    return await customer.checkout(CARD)


def orders_pushed(pushes: list[Push], order_id: int) -> list[str]:
    return [p.data["status"] for p in pushes if p.event == "order" and p.data["id"] == order_id]


async def pushed(pushes: list[Push], order_id: int, status: str) -> list[str]:
    """The statuses of the order pushed so far, once `status` is among them."""
    return await wait_until_async(
        lambda: status in orders_pushed(pushes, order_id) and orders_pushed(pushes, order_id),
        what=f"order {order_id} {status}",
    )


def test_a_customers_checkout_reaches_a_subscribed_clerk(shop: ServerProcess) -> None:
    async def run() -> None:
        customer = await shop.async_client("customer")
        clerk = await shop.async_client("clerk")
        earlier = await buy_one(customer)
        pushes: list[Push] = []
        clerk.on_event(pushes.append)

        page = await clerk.subscribe_orders()
        order = await buy_one(customer)

        waiting = [(o["id"], o["status"]) for o in page["items"]]
        assert (earlier["id"], "paid") in waiting and order["id"] not in dict(waiting)
        assert await pushed(pushes, order["id"], "paid") == ["paid"], "never the pending one"
        await clerk.call("order.ship", order_id=order["id"], tracking="JNE 0042")
        assert await pushed(pushes, order["id"], "shipped") == ["paid", "shipped"]
        seen = await customer.call("order.get", order_id=order["id"])
        assert (seen["status"], seen["tracking"]) == ("shipped", "JNE 0042")
        await clerk.unsubscribe_orders()
        await customer.call("order.cancel", order_id=earlier["id"])
        await clerk.call("ping")  # the cancel's push would have come before this answer
        assert orders_pushed(pushes, earlier["id"]) == []
        for client in (customer, clerk):
            await client.close()

    asyncio.run(run())


def test_the_sdk_subscribes_again_after_a_cut_link_and_hands_over_the_fresh_page(
    shop: ServerProcess,
) -> None:
    proxy = CuttableProxy(shop.port)

    async def run() -> None:
        customer = await shop.async_client("customer")
        clerk = await shop.async_client("clerk", port=proxy.port, backoff_min=0.05)
        pushes: list[Push] = []
        clerk.on_event(pushes.append)
        await clerk.subscribe_orders()

        proxy.cut()
        snapshot = await wait_until_async(
            lambda: [p for p in pushes if p.event == ORDERS_SNAPSHOT_EVENT], what="the page"
        )
        later = await buy_one(customer)  # its push shows the subscription was taken again
        assert "items" in snapshot[0].data and proxy.accepted == 2
        assert await pushed(pushes, later["id"], "paid") == ["paid"]
        for client in (customer, clerk):
            await client.close()

    try:
        asyncio.run(run())
    finally:
        proxy.close()


def test_a_customer_may_not_subscribe(shop: ServerProcess) -> None:
    async def run() -> None:
        customer = await shop.async_client("customer")
        with pytest.raises(Forbidden) as refused:
            await customer.subscribe_orders()
        assert refused.value.details == {"role": "customer", "allowed": ["admin", "clerk"]}
        await customer.close()

    asyncio.run(run())


@pytest.mark.pg
def test_a_checkout_on_one_server_reaches_a_clerk_on_another(servers, pg_schema_url) -> None:
    init_demo(pg_schema_url)
    first, second = (servers.start(db_url=pg_schema_url) for _ in range(2))

    async def run() -> None:
        customer = await first.async_client("customer")
        clerk = await second.async_client("clerk")
        mine: list[Push] = []
        staff: list[Push] = []
        customer.on_event(mine.append)
        clerk.on_event(staff.append)
        await clerk.subscribe_orders()

        order = await buy_one(customer)
        assert await pushed(staff, order["id"], "paid") == ["paid"]
        await clerk.call("order.ship", order_id=order["id"], tracking="SiCepat 77 1234")
        assert await pushed(mine, order["id"], "shipped") == ["pending", "paid", "shipped"]
        assert await pushed(staff, order["id"], "shipped") == ["paid", "shipped"]
        [shipped] = [p.data for p in mine if p.data.get("status") == "shipped"]
        assert shipped["tracking"] == "SiCepat 77 1234", (
            "the customer's push, from the other server"
        )
        for client in (customer, clerk):
            await client.close()

    asyncio.run(run())
