"""Admins keep the catalog over the wire: create, update, archive and restore a product on a
real server (SQLite, where the server caches products, and PostgreSQL, where it does not),
each call leaving exactly one audit entry, errors naming the field a form shows them by,
and `stock` events reaching open screens (across two servers on PostgreSQL)."""

from __future__ import annotations

import asyncio
import json
import secrets
from typing import Any

import pytest

from db.models import AuditLog
from protocol.client import AsyncClient
from protocol.errors import BadRequest, Conflict, NotFound, OutOfStock
from tests.e2e.harness import ServerProcess, wait_until_async
from tests.e2e.shopdb import facts, init_demo, opened
from tests.e2e.test_inventory import new_customer


@pytest.fixture(params=["sqlite", pytest.param("pg", marks=pytest.mark.pg)])
def one_shop(request, servers) -> ServerProcess:
    """A shop of the test's own, on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        return servers.start()
    url = request.getfixturevalue("pg_schema_url")
    init_demo(url)
    return servers.start(db_url=url)


def entries(url: str, product_id: int) -> list[tuple[str, dict[str, Any]]]:
    """The audit entries naming the product, oldest first."""
    with opened(url):
        found = AuditLog.select().where(AuditLog.target == f"product:{product_id}")
        return [(a.action, json.loads(a.details)) for a in found.order_by(AuditLog.id)]


def admin_entries(url: str) -> int:
    with opened(url):
        return AuditLog.select().where(AuditLog.action.startswith("admin.product.")).count()


def stock_events(client: AsyncClient) -> list[dict[str, Any]]:
    pushes: list[dict[str, Any]] = []
    client.on_event(lambda p: pushes.append(p.data) if p.event == "stock" else None)
    return pushes


def new_product(tag: str, **more: Any) -> dict[str, Any]:
    return {
        "sku": f"ADM-{tag}",
        "name": f"Kopi {tag}",
        "category_id": 1,
        "price": 12_500,
        **more,
    }


def test_a_created_product_is_audited_and_appears_to_every_all_subscriber(one_shop):
    tag = secrets.token_hex(3)

    async def run():
        customer = await new_customer(one_shop.port)
        pushes = stock_events(customer)
        await customer.subscribe_stock()
        admin = await one_shop.async_client("admin")
        made = await admin.call("admin.product.create", new_product(tag, stock=7))
        await wait_until_async(lambda: pushes, 10, "the new product's stock event")
        seen = await customer.call("catalog.get", product_id=made["id"])
        for client in (customer, admin):
            await client.close()
        return made, pushes, seen

    made, pushes, seen = asyncio.run(run())
    assert (made["sku"], made["stock"], made["version"], made["archived"]) == (
        f"ADM-{tag}",
        7,
        1,
        False,
    )
    assert (made["currency"], made["description"]) == ("IDR", "")
    assert seen == made
    assert pushes == [{"product_id": made["id"], "stock": 7, "version": 1}]
    assert entries(one_shop.db_url, made["id"]) == [
        (
            "admin.product.create",
            {
                "sku": f"ADM-{tag}",
                "description": "",
                "stock": 7,
                "name": f"Kopi {tag}",
                "category_id": 1,
                "price": 12_500,
            },
        )
    ]
    assert facts(one_shop.db_url, made["id"])["problems"] == []


def test_create_errors_name_the_field_and_leave_no_entry(one_shop):
    tag = secrets.token_hex(3)

    async def run():
        admin = await one_shop.async_client("admin")
        made = await admin.call("admin.product.create", new_product(tag))
        await admin.call("admin.product.archive", product_id=made["id"])
        before = admin_entries(one_shop.db_url)
        failures = []
        for args in (
            new_product(tag),  # taken by an archived product
            new_product(f"{tag}-b", price=-1),
            new_product(f"{tag}-c", price=10**12 + 1),
            new_product(f"{tag}-d", category_id=2**53),
        ):
            with pytest.raises((Conflict, BadRequest, NotFound)) as failed:
                await admin.call("admin.product.create", args)
            failures.append((type(failed.value), failed.value.details))
        await admin.close()
        return before, failures

    before, failures = asyncio.run(run())
    assert failures[0] == (Conflict, {"field": "sku"})
    assert [(kind, details["field"]) for kind, details in failures[1:3]] == [
        (BadRequest, "price"),
        (BadRequest, "price"),
    ]
    assert failures[3] == (NotFound, {"kind": "category", "id": 2**53})
    assert admin_entries(one_shop.db_url) == before


def test_an_update_shows_at_once_sends_no_event_and_audits_what_changed(one_shop):
    tag = secrets.token_hex(3)

    async def run():
        admin = await one_shop.async_client("admin")
        made = await admin.call("admin.product.create", new_product(tag, stock=3))
        customer = await new_customer(one_shop.port)
        before = await customer.call("catalog.get", product_id=made["id"])  # cached on SQLite
        pushes = stock_events(customer)
        await customer.subscribe_stock([made["id"]])
        changed = await admin.call(
            "admin.product.update", product_id=made["id"], price=9_000, name=f"Teh {tag}"
        )
        after = await customer.call("catalog.get", product_id=made["id"])
        same = await admin.call("admin.product.update", product_id=made["id"], price=9_000)
        await admin.call("clerk.restock", product_id=made["id"], qty=1, reason="after")
        await wait_until_async(lambda: pushes, 10, "the restock's stock event")
        with pytest.raises(NotFound) as missing:
            await admin.call("admin.product.update", product_id=made["id"], category_id=2**53)
        for client in (customer, admin):
            await client.close()
        return made, before, changed, after, same, pushes, missing.value

    made, before, changed, after, same, pushes, missing = asyncio.run(run())
    assert before["price"] == 12_500
    assert changed == {**made, "price": 9_000, "name": f"Teh {tag}"}
    assert after == changed and same == changed
    assert pushes == [{"product_id": made["id"], "stock": 4, "version": 2}]  # none from updates
    assert missing.details == {"kind": "category", "id": 2**53}
    assert entries(one_shop.db_url, made["id"])[1:] == [
        ("admin.product.update", {"price": [12_500, 9_000], "name": [f"Kopi {tag}", f"Teh {tag}"]}),
        ("admin.product.update", {}),
        ("clerk.restock", {"delta": 1, "reason": "after", "stock": 4}),
    ]


def test_archive_hides_from_customers_restore_shows_again_with_one_entry_per_call(one_shop):
    tag = secrets.token_hex(3)

    async def run():
        admin = await one_shop.async_client("admin")
        made = await admin.call("admin.product.create", new_product(tag, stock=2))
        customer = await new_customer(one_shop.port)
        await customer.call("catalog.get", product_id=made["id"])  # cached on SQLite
        pushes = stock_events(customer)
        await customer.subscribe_stock([made["id"]])
        archived = await admin.call("admin.product.archive", product_id=made["id"])
        again = await admin.call("admin.product.archive", product_id=made["id"])
        await wait_until_async(lambda: pushes, 10, "the archive's stock event")
        with pytest.raises(NotFound) as hidden:
            await customer.call("catalog.get", product_id=made["id"])
        staff_view = await admin.call("catalog.get", product_id=made["id"])
        restored = await admin.call("admin.product.restore", product_id=made["id"])
        await wait_until_async(lambda: len(pushes) == 2, 10, "the restore's stock event")
        shown = await customer.call("catalog.get", product_id=made["id"])
        for client in (customer, admin):
            await client.close()
        return made, archived, again, hidden.value, staff_view, restored, shown, pushes

    made, archived, again, hidden, staff_view, restored, shown, pushes = asyncio.run(run())
    assert (archived["archived"], archived["version"]) == (True, 2)
    assert again == archived == staff_view
    assert hidden.details == {"kind": "product", "id": made["id"]}
    assert (restored["archived"], restored["version"]) == (False, 3)
    assert shown == restored
    assert pushes == [
        {"product_id": made["id"], "stock": 2, "version": 2},
        {"product_id": made["id"], "stock": 2, "version": 3},
    ]
    assert [action for action, _ in entries(one_shop.db_url, made["id"])] == [
        "admin.product.create",
        "admin.product.archive",
        "admin.product.archive",
        "admin.product.restore",
    ]
    assert [details for _, details in entries(one_shop.db_url, made["id"])[1:]] == [
        {"changed": True},
        {"changed": False},
        {"changed": True},
    ]


def test_a_cart_line_of_an_archived_product_stays_unavailable_until_restored(one_shop):
    tag = secrets.token_hex(3)

    async def run():
        admin = await one_shop.async_client("admin")
        made = await admin.call("admin.product.create", new_product(tag, stock=4))
        customer = await new_customer(one_shop.port)
        await customer.call("cart.add", product_id=made["id"], qty=2)
        await admin.call("admin.product.archive", product_id=made["id"])
        held = await customer.call("cart.get")
        with pytest.raises(OutOfStock) as refused:
            await customer.checkout({"method": "card", "token": "ok"})
        await admin.call("admin.product.restore", product_id=made["id"])
        back = await customer.call("cart.get")
        order = await customer.checkout({"method": "card", "token": "ok"})
        for client in (customer, admin):
            await client.close()
        return made, held, refused.value, back, order

    made, held, refused, back, order = asyncio.run(run())
    assert [(i["product_id"], i["qty"], i["available"]) for i in held["items"]] == [
        (made["id"], 2, False)
    ]
    assert refused.details["available"] == 0
    assert [i["available"] for i in back["items"]] == [True]
    assert order["status"] == "paid"
    assert facts(one_shop.db_url, made["id"])["stock"] == 2


def test_unknown_products_are_not_found_for_every_op(one_shop):
    async def run():
        admin = await one_shop.async_client("admin")
        found = []
        for op, more in (
            ("admin.product.update", {"price": 1}),
            ("admin.product.archive", {}),
            ("admin.product.restore", {}),
        ):
            with pytest.raises(NotFound) as missing:
                await admin.call(op, product_id=2**53, **more)
            found.append(missing.value.details)
        await admin.close()
        return found

    assert asyncio.run(run()) == [{"kind": "product", "id": 2**53}] * 3


@pytest.fixture
def two_servers(servers, pg_schema_url):
    init_demo(pg_schema_url)
    return [servers.start(db_url=pg_schema_url) for _ in range(2)]


@pytest.mark.pg
def test_on_two_servers_create_and_archive_reach_the_other(two_servers):
    here, there = two_servers
    tag = secrets.token_hex(3)

    async def run():
        customer = await new_customer(there.port)
        pushes = stock_events(customer)
        await customer.subscribe_stock()
        admin = await here.async_client("admin")
        made = await admin.call("admin.product.create", new_product(tag, stock=5))
        await wait_until_async(lambda: pushes, 10, "the create on the other server")
        await admin.call("admin.product.archive", product_id=made["id"])
        await wait_until_async(lambda: len(pushes) == 2, 10, "the archive on the other server")
        with pytest.raises(NotFound):
            await customer.call("catalog.get", product_id=made["id"])
        for client in (customer, admin):
            await client.close()
        return made, pushes

    made, pushes = asyncio.run(run())
    assert pushes == [
        {"product_id": made["id"], "stock": 5, "version": 1},
        {"product_id": made["id"], "stock": 5, "version": 2},
    ]
