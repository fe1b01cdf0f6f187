"""Invariant 1: concurrent checkouts on the last units let exactly as many through as exist."""

import asyncio

import pytest

from protocol.client import AsyncClient
from protocol.errors import OutOfStock
from tests.e2e.shopdb import add_product, facts, init_demo

BUYERS = 100
STOCK = 10
CARD = {"method": "card", "token": "tok"}
# Every buyer signs up and in from 127.0.0.1, all at once: lift the per-address limits on
# sign-ups (30 an hour) and on sign-ins checked at a time (20).
MANY_SIGN_UPS = (
    "--limit",
    "registrations_per_address_per_hour=1000",
    "--limit",
    "failed_logins_per_address_per_min=1000",
)
ALL_FROM_LOOPBACK = ("--limit", f"max_connections_per_address={BUYERS}")  # one address


async def buyer(port: int, name: str, product_id: int, ready: list, go: asyncio.Event) -> str:
    async with AsyncClient("127.0.0.1", port) as client:
        await client.call("auth.register", username=name, password="password-" + name)
        await client.login(name, "password-" + name)
        await client.call("cart.add", product_id=product_id)
        ready.append(name)
        await go.wait()
        try:
            await client.checkout(CARD)
            return "bought"
        except OutOfStock as short:
            assert short.details["product_id"] == product_id
            return "short"


async def race(ports: list[int], product_id: int, prefix: str) -> list[str]:
    """Every buyer signs in and fills a cart; then all check out at once."""
    ready: list[str] = []
    go = asyncio.Event()
    tasks = [
        asyncio.create_task(buyer(ports[i % len(ports)], f"{prefix}{i}", product_id, ready, go))
        for i in range(BUYERS)
    ]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 120
    while len(ready) < BUYERS:
        failed = [t for t in tasks if t.done()]
        if failed:
            await failed[0]  # raises what went wrong
        assert loop.time() < deadline, f"only {len(ready)} buyers ready"
        await asyncio.sleep(0.01)
    go.set()
    return await asyncio.gather(*tasks)


def check(url: str, product_id: int, outcomes: list[str]) -> None:
    assert outcomes.count("bought") == STOCK
    assert outcomes.count("short") == BUYERS - STOCK
    found = facts(url, product_id)
    assert found["stock"] == 0
    assert found["orders"] == {"paid": STOCK}
    assert found["problems"] == []


def test_hundred_buyers_ten_units_one_sqlite_server(servers, tmp_path):
    url = f"sqlite:///{tmp_path / 'race.db'}"
    init_demo(url)
    product_id = add_product(url, "RACE-1", STOCK)
    server = servers.start(*MANY_SIGN_UPS, *ALL_FROM_LOOPBACK, db_url=url)
    outcomes = asyncio.run(race([server.port], product_id, "sq"))
    check(url, product_id, outcomes)


@pytest.mark.pg
def test_hundred_buyers_ten_units_two_servers_on_postgresql(servers, pg_schema_url):
    init_demo(pg_schema_url)
    product_id = add_product(pg_schema_url, "RACE-PG", STOCK)
    ports = [
        servers.start(*MANY_SIGN_UPS, *ALL_FROM_LOOPBACK, db_url=pg_schema_url).port
        for _ in range(2)
    ]
    outcomes = asyncio.run(race(ports, product_id, "pg"))
    check(pg_schema_url, product_id, outcomes)
