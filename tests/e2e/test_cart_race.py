"""One customer's cart changed at once from two servers on one PostgreSQL (issue 14, item 10):
every add counts, and the line limit holds."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from protocol.client import AsyncClient
from protocol.errors import InvalidState
from server.services.cart import MAX_LINES
from tests.e2e.harness import ServerProcess
from tests.e2e.shopdb import add_product, init_demo, opened

pytestmark = pytest.mark.pg
CONNECTIONS_PER_SERVER = 4


@pytest.fixture
def two_servers(servers: Any, pg_schema_url: str) -> list[ServerProcess]:
    init_demo(pg_schema_url)
    return [servers.start(db_url=pg_schema_url) for _ in range(2)]


async def connections(two_servers: list[ServerProcess]) -> list[AsyncClient]:
    """The customer signed in on the first server, then the same session on
    `CONNECTIONS_PER_SERVER` connections to each server."""
    first = await two_servers[0].async_client("customer")
    token = first.token
    assert token is not None
    await first.close()
    clients = []
    for server in two_servers:
        for _ in range(CONNECTIONS_PER_SERVER):
            client = await server.async_client()
            await client.resume(token)
            clients.append(client)
    return clients


def stored_lines(url: str) -> list[tuple[int, int]]:
    """Every cart line in the shop, as (product id, qty)."""
    with opened(url) as db:
        return db.execute_sql("SELECT product_id, qty FROM cart_lines ORDER BY id").fetchall()


def test_sixteen_adds_at_once_on_two_servers_add_sixteen(two_servers, pg_schema_url):
    product = add_product(pg_schema_url, "RACE-1", stock=100)

    async def run() -> list[Any]:
        clients = await connections(two_servers)
        adds = [client.call("cart.add", product_id=product, qty=1) for client in clients * 2]
        answers = await asyncio.gather(*adds, return_exceptions=True)
        assert await clients[0].call("cart.get") == await clients[-1].call("cart.get")
        for client in clients:
            await client.close()
        return answers

    answers = asyncio.run(run())
    failed = [answer for answer in answers if isinstance(answer, BaseException)]
    assert failed == [], failed
    assert sorted(answer["count"] for answer in answers) == list(range(1, 17)), (
        "each add answers the cart it made"
    )
    assert stored_lines(pg_schema_url) == [(product, 16)]


def test_adds_at_once_to_a_cart_of_95_lines_stop_at_100(two_servers, pg_schema_url):
    products = [add_product(pg_schema_url, f"FULL-{n}", stock=10) for n in range(MAX_LINES + 25)]
    held, extra = products[:95], products[95:]

    async def run() -> list[Any]:
        clients = await connections(two_servers)
        for product in held:
            await clients[0].call("cart.set", product_id=product, qty=1)
        adds = [
            clients[i % len(clients)].call("cart.add", product_id=product, qty=1)
            for i, product in enumerate(extra)
        ]
        answers = await asyncio.gather(*adds, return_exceptions=True)
        for client in clients:
            await client.close()
        return answers

    answers = asyncio.run(run())
    added = [answer for answer in answers if isinstance(answer, dict)]
    refused = [answer for answer in answers if not isinstance(answer, dict)]
    assert len(added) == 5 and len(refused) == 25, answers
    assert all(isinstance(error, InvalidState) for error in refused), refused
    assert {error.details["reason"] for error in refused} == {"cart_full"}
    assert max(len(answer["items"]) for answer in added) == MAX_LINES
    assert len(stored_lines(pg_schema_url)) == MAX_LINES
