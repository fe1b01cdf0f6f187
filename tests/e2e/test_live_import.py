"""`warung-server import-products` run while a shop is open reaches its clients: a restocked
product's new stock and a new product arrive as `stock` events, and the catalog shows the
imported prices (on SQLite, where the server caches products, and on PostgreSQL)."""

from __future__ import annotations

import asyncio
import secrets
import subprocess
import sys
import time
from pathlib import Path

import pytest

from db.models import Product
from tests.e2e.harness import ServerProcess, wait_until_async
from tests.e2e.shopdb import add_product, facts, init_demo, opened
from tests.e2e.test_inventory import new_customer

DEADLINE_S = 10.0


@pytest.fixture(params=["sqlite", pytest.param("pg", marks=pytest.mark.pg)])
def one_shop(request, servers) -> ServerProcess:
    if request.param == "sqlite":
        return servers.start()
    url = request.getfixturevalue("pg_schema_url")
    init_demo(url)
    return servers.start(db_url=url)


def run_import(db_url: str, csv: Path) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "server.cli", "import-products", str(csv), "--db", db_url],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stderr + done.stdout


def product_id_of(db_url: str, sku: str) -> int:
    with opened(db_url):
        return Product.get(Product.sku == sku).id


def test_an_import_restocks_open_screens_and_shows_new_products(one_shop, tmp_path):
    tag = secrets.token_hex(3)
    sold_out = add_product(one_shop.db_url, f"IMP-{tag}", stock=0, price=500_000)
    csv = tmp_path / "restock.csv"
    csv.write_text(
        "sku,name,description,category,price,stock\n"
        f"IMP-{tag},Test item IMP-{tag},made by a test,Minuman,6000,12\n"
        f"NEW-{tag},Es teh {tag},,Minuman,3500,4\n"
    )

    async def run():
        watcher = await new_customer(one_shop.port)
        everything = await new_customer(one_shop.port)
        by_id: list[dict] = []
        every: list[dict] = []
        watcher.on_event(lambda p: by_id.append(p.data) if p.event == "stock" else None)
        everything.on_event(lambda p: every.append(p.data) if p.event == "stock" else None)
        snapshot = await watcher.subscribe_stock([sold_out])
        await everything.subscribe_stock()
        await watcher.call("catalog.get", product_id=sold_out)  # cached on SQLite
        said = await asyncio.to_thread(run_import, one_shop.db_url, csv)
        await wait_until_async(lambda: by_id, DEADLINE_S, "the restock's stock event")
        await wait_until_async(lambda: len(every) >= 2, DEADLINE_S, "both products' events")
        shown = await watcher.call("catalog.get", product_id=sold_out)
        for client in (watcher, everything):
            await client.close()
        return snapshot, said, by_id, every, shown

    snapshot, said, by_id, every, shown = asyncio.run(run())
    new_id = product_id_of(one_shop.db_url, f"NEW-{tag}")
    assert snapshot == [{"product_id": sold_out, "stock": 0, "version": 1}]
    assert "1 new, 1 updated (1 with a stock adjustment)" in said
    assert by_id == [{"product_id": sold_out, "stock": 12, "version": 2}]
    assert sorted(every, key=lambda e: e["product_id"]) == [
        {"product_id": sold_out, "stock": 12, "version": 2},
        {"product_id": new_id, "stock": 4, "version": 1},
    ]
    assert (shown["stock"], shown["version"], shown["price"]) == (12, 2, 600_000)
    assert facts(one_shop.db_url, sold_out)["problems"] == []


def test_an_import_that_changes_prices_only_shows_them_and_sends_no_event(one_shop, tmp_path):
    tag = secrets.token_hex(3)
    kept = add_product(one_shop.db_url, f"SAME-{tag}", stock=3, price=500_000)
    csv = tmp_path / "prices.csv"
    csv.write_text(
        "sku,name,description,category,price,stock\n"
        f"SAME-{tag},Test item SAME-{tag},made by a test,Minuman,7000,3\n"
    )

    async def run():
        customer = await new_customer(one_shop.port)
        pushes: list[dict] = []
        customer.on_event(lambda p: pushes.append(p.data) if p.event == "stock" else None)
        await customer.subscribe_stock([kept])
        await customer.call("catalog.get", product_id=kept)  # cached on SQLite
        await asyncio.to_thread(run_import, one_shop.db_url, csv)
        await price_shown(customer, kept, 700_000)
        clerk = await one_shop.async_client("clerk")
        await clerk.call("clerk.restock", product_id=kept, qty=1, reason="after the import")
        await wait_until_async(lambda: pushes, DEADLINE_S, "the restock's stock event")
        for client in (customer, clerk):
            await client.close()
        return pushes

    assert asyncio.run(run()) == [{"product_id": kept, "stock": 4, "version": 2}]


async def price_shown(client, product_id: int, price: int) -> None:
    """Wait until `catalog.get` shows `price` (on SQLite, once the server re-read the
    products: any stock event of that re-read is sent before)."""
    deadline = time.monotonic() + DEADLINE_S
    while (await client.call("catalog.get", product_id=product_id))["price"] != price:
        assert time.monotonic() < deadline, f"the catalog did not show {price} in time"
        await asyncio.sleep(0.05)
