"""A flash sale (issue 19, item 3): more customers than units check out at once; exactly
the units are sold and every other customer is told `out_of_stock`, on one SQLite server
and across two over PostgreSQL."""

import asyncio
import secrets

import pytest

from protocol.client import AsyncClient
from protocol.errors import OutOfStock
from tests.e2e.shopdb import add_product, facts, init_demo

CARD = {"method": "card", "token": "tok"}
CUSTOMERS, UNITS = 12, 3


async def customer(port: int, product: int) -> AsyncClient:
    """A new customer on the server at `port`, with one unit of `product` in the cart."""
    client = AsyncClient("127.0.0.1", port)
    await client.connect()
    name, password = f"f{secrets.token_hex(4)}", secrets.token_urlsafe(12)
    await client.call("auth.register", username=name, password=password)
    await client.login(name, password)
    await client.call("cart.add", product_id=product)
    return client


async def flash_sale(ports: list[int], product: int) -> list[object]:
    """Every customer's checkout outcome, all sent at once."""
    clients = [await customer(ports[i % len(ports)], product) for i in range(CUSTOMERS)]
    try:
        return await asyncio.gather(
            *(c.call("order.checkout", idempotency_key="flash", payment=CARD) for c in clients),
            return_exceptions=True,
        )
    finally:
        for client in clients:
            await client.close()


def sold_exactly_the_units(outcomes: list[object], url: str, product: int) -> None:
    paid = [o for o in outcomes if isinstance(o, dict)]
    refused = [o for o in outcomes if isinstance(o, OutOfStock)]
    assert len(paid) == UNITS and all(o["status"] == "paid" for o in paid), outcomes
    assert len(refused) == CUSTOMERS - UNITS, outcomes
    for error in refused:
        assert error.details == {"product_id": product, "requested": 1, "available": 0}
    found = facts(url, product)
    assert found["stock"] == 0 and found["orders"] == {"paid": UNITS}, found
    assert found["problems"] == []


def test_a_flash_sale_on_one_server_sells_each_unit_once(servers):
    server = servers.start()
    product = add_product(server.db_url, "FLASH", UNITS)
    outcomes = asyncio.run(flash_sale([server.port], product))
    sold_exactly_the_units(outcomes, server.db_url, product)


@pytest.mark.pg
def test_a_flash_sale_on_two_servers_sells_each_unit_once(servers, pg_schema_url):
    init_demo(pg_schema_url)
    product = add_product(pg_schema_url, "FLASH", UNITS)
    ports = [servers.start(db_url=pg_schema_url).port for _ in range(2)]
    outcomes = asyncio.run(flash_sale(ports, product))
    sold_exactly_the_units(outcomes, pg_schema_url, product)
