"""Restock and adjust over the wire: live to subscribers (on one SQLite server, and across two
servers on PostgreSQL), recorded as movements and in the audit log, refused when they would
take stock below zero or come from a customer or a stranger, applied once under one key."""

import asyncio
import json
import secrets

import pytest

from db.models import AuditLog, StockMovement
from protocol.client import AsyncClient
from protocol.errors import Conflict, Forbidden, OutOfStock, Unauthenticated
from tests.e2e.harness import wait_until_async
from tests.e2e.shopdb import add_product, facts, init_demo, opened


async def new_customer(port: int) -> AsyncClient:
    client = AsyncClient("127.0.0.1", port)
    await client.connect()
    name = f"c{secrets.token_hex(4)}"
    await client.call("auth.register", username=name, password="password-" + name)
    await client.login(name, "password-" + name)
    return client


async def stock_pushes(client: AsyncClient, product_id: int) -> list[dict]:
    """The `stock` pushes `client` gets for `product_id` from now on (after its snapshot)."""
    pushes: list[dict] = []
    client.on_event(
        lambda p: (
            pushes.append(p.data)
            if p.event == "stock" and p.data["product_id"] == product_id
            else None
        )
    )
    await client.subscribe_stock([product_id])
    return pushes


def recorded(url: str, product_id: int) -> tuple[list, list]:
    """The product's stock movements and the audit entries naming it."""
    with opened(url):
        moves = [
            (m.kind, m.delta, m.stock_after, m.reason)
            for m in StockMovement.select().where(StockMovement.product == product_id)
        ]
        entries = [
            (a.action, json.loads(a.details))
            for a in AuditLog.select().where(AuditLog.target == f"product:{product_id}")
        ]
    return moves, entries


def test_a_restock_is_seen_live_and_recorded(shop):
    product_id = add_product(shop.db_url, f"RS-{secrets.token_hex(3)}", stock=4)

    async def run():
        customer = await new_customer(shop.port)
        pushes = await stock_pushes(customer, product_id)
        clerk = await shop.async_client("clerk")
        answer = await clerk.call("clerk.restock", product_id=product_id, qty=20, reason="SJ-9")
        await wait_until_async(lambda: pushes, 10, "the stock push")
        for client in (customer, clerk):
            await client.close()
        return answer, pushes

    answer, pushes = asyncio.run(run())
    assert (answer["id"], answer["stock"], answer["version"]) == (product_id, 24, 2)
    assert pushes == [{"product_id": product_id, "stock": 24, "version": 2}]
    assert recorded(shop.db_url, product_id) == (
        [("restock", 20, 24, "SJ-9")],
        [("clerk.restock", {"delta": 20, "reason": "SJ-9", "stock": 24})],
    )
    assert facts(shop.db_url, product_id)["problems"] == []


def test_an_adjustment_below_zero_is_refused_and_changes_nothing(shop):
    product_id = add_product(shop.db_url, f"AD-{secrets.token_hex(3)}", stock=2)

    async def run():
        admin = await shop.async_client("admin")
        with pytest.raises(OutOfStock) as short:
            await admin.call("clerk.adjust", product_id=product_id, delta=-3, reason="hilang")
        down = await admin.call("clerk.adjust", product_id=product_id, delta=-2, reason="rusak")
        await admin.close()
        return short.value, down

    short, down = asyncio.run(run())
    assert short.details == {"product_id": product_id, "requested": 3, "available": 2}
    assert down["stock"] == 0
    assert recorded(shop.db_url, product_id) == (
        [("adjustment", -2, 0, "rusak")],
        [("clerk.adjust", {"delta": -2, "reason": "rusak", "stock": 0})],
    )


def test_customers_and_strangers_may_not_move_stock(shop):
    product_id = add_product(shop.db_url, f"NO-{secrets.token_hex(3)}", stock=5)

    async def run():
        customer = await new_customer(shop.port)
        stranger = AsyncClient("127.0.0.1", shop.port)
        await stranger.connect()
        refusals = []
        for client in (customer, stranger):
            for op, change in (("clerk.restock", {"qty": 1}), ("clerk.adjust", {"delta": -1})):
                with pytest.raises((Forbidden, Unauthenticated)) as refused:
                    await client.call(op, product_id=product_id, reason="x", **change)
                refusals.append(type(refused.value))
            await client.close()
        return refusals

    assert asyncio.run(run()) == [Forbidden, Forbidden, Unauthenticated, Unauthenticated]
    assert facts(shop.db_url, product_id)["stock"] == 5
    assert recorded(shop.db_url, product_id) == ([], [])


def test_a_repeated_key_applies_once(shop):
    product_id = add_product(shop.db_url, f"KY-{secrets.token_hex(3)}", stock=1)
    args = {"product_id": product_id, "qty": 5, "reason": "SJ-1", "idempotency_key": "sj-1"}

    async def run():
        clerk = await shop.async_client("clerk")
        first, again = await asyncio.gather(
            clerk.call("clerk.restock", **args), clerk.call("clerk.restock", **args)
        )
        later = await clerk.call("clerk.restock", **args)
        with pytest.raises(Conflict) as reused:
            await clerk.call(
                "clerk.adjust",
                product_id=product_id,
                delta=5,
                reason="SJ-1",
                idempotency_key="sj-1",
            )
        await clerk.close()
        return first, again, later, reused.value

    first, again, later, reused = asyncio.run(run())
    assert first == again == later and first["stock"] == 6
    assert reused.details == {"field": "idempotency_key"}
    assert facts(shop.db_url, product_id)["stock"] == 6
    assert recorded(shop.db_url, product_id)[0] == [("restock", 5, 6, "SJ-1")]


@pytest.fixture
def two_servers(servers, pg_schema_url):
    init_demo(pg_schema_url)
    return [servers.start(db_url=pg_schema_url) for _ in range(2)]


@pytest.mark.pg
def test_on_two_servers_a_restock_reaches_the_other_and_one_key_applies_once(
    two_servers, pg_schema_url
):
    here, there = two_servers
    product_id = add_product(pg_schema_url, f"PG-{secrets.token_hex(3)}", stock=3)
    args = {"product_id": product_id, "qty": 7, "reason": "SJ-2", "idempotency_key": "sj-2"}

    async def run():
        customer = await new_customer(there.port)
        pushes = await stock_pushes(customer, product_id)
        clerk_here = await here.async_client("clerk")
        clerk_there = await there.async_client()
        await clerk_there.resume(clerk_here.token)
        answers = await asyncio.gather(
            clerk_here.call("clerk.restock", **args), clerk_there.call("clerk.restock", **args)
        )
        await wait_until_async(lambda: pushes, 10, "the stock push on the other server")
        for client in (customer, clerk_here, clerk_there):
            await client.close()
        return answers, pushes

    (first, second), pushes = asyncio.run(run())
    assert first == second and first["stock"] == 10
    assert pushes == [{"product_id": product_id, "stock": 10, "version": 2}]
    found = facts(pg_schema_url, product_id)
    assert found["stock"] == 10 and found["problems"] == []
    assert recorded(pg_schema_url, product_id)[0] == [("restock", 7, 10, "SJ-2")]
