"""Live stock: committed changes only, in order, conflated for the slow, across servers."""

import asyncio
import secrets
import socket
import time
from typing import Any

import psycopg2
import pytest

from protocol.client import AsyncClient, Push
from protocol.errors import OutOfStock, PaymentDeclined
from protocol.framing import FrameDecoder, Message
from tests.e2e.harness import ServerProcess, wait_until_async
from tests.e2e.raw import RawConnection
from tests.e2e.shopdb import init_demo

CARD = {"method": "card", "token": "tok"}


async def new_customer(port: int) -> AsyncClient:
    client = AsyncClient("127.0.0.1", port)
    await client.connect()
    name = f"c{secrets.token_hex(4)}"
    await client.call("auth.register", username=name, password="password-" + name)
    await client.login(name, "password-" + name)
    return client


async def wait_for(pushes: list, want, timeout: float = 10.0):
    """The first push that `want` accepts, once there is one."""
    found = await wait_until_async(lambda: [p for p in pushes if want(p)], timeout, "the push")
    return found[0]


async def buy(client: AsyncClient, lines: dict[int, int], payment=CARD) -> dict:
    await client.call("cart.clear")
    for product_id, qty in lines.items():
        await client.call("cart.add", product_id=product_id, qty=qty)
    return await client.checkout(payment)


def of(pushes, product_id):
    return [p.data for p in pushes if p.event == "stock" and p.data["product_id"] == product_id]


def test_a_checkout_that_fails_inside_its_transaction_sends_no_event(shop):
    async def run():
        watcher = await shop.async_client("clerk")
        buyer, rival = await new_customer(shop.port), await new_customer(shop.port)
        pushes: list[Push] = []
        watcher.on_event(pushes.append)
        items = (await watcher.call("catalog.list", limit=200))["items"]
        a, b, sentinel = sorted(
            (p for p in items if 5 <= p["stock"] <= 900), key=lambda p: p["id"]
        )[:3]
        await watcher.subscribe_stock([a["id"], b["id"], sentinel["id"]])
        await buyer.call("cart.add", product_id=a["id"])
        await buyer.call("cart.add", product_id=b["id"], qty=b["stock"])
        await buy(rival, {b["id"]: 1})  # the buyer's later line is now one short
        with pytest.raises(OutOfStock) as short:
            await buyer.checkout(CARD)
        assert short.value.details == {
            "product_id": b["id"],
            "requested": b["stock"],
            "available": b["stock"] - 1,
        }
        await buy(rival, {sentinel["id"]: 1})
        await wait_for(pushes, lambda p: p.data.get("product_id") == sentinel["id"])
        for client in (watcher, buyer, rival):
            await client.close()
        return a, b, pushes

    a, b, pushes = asyncio.run(run())
    assert of(pushes, a["id"]) == []  # taken and rolled back inside the failed transaction
    assert [e["stock"] for e in of(pushes, b["id"])] == [b["stock"] - 1]


def test_a_declined_payment_shows_units_taken_and_given_back(shop):
    async def run():
        watcher = await shop.async_client("clerk")
        buyer = await new_customer(shop.port)
        pushes: list[Push] = []
        watcher.on_event(pushes.append)
        items = (await watcher.call("catalog.list", limit=200))["items"]
        product = next(p for p in items if 5 <= p["stock"] <= 900)
        [snap] = await watcher.subscribe_stock([product["id"]])
        with pytest.raises(PaymentDeclined):
            await buy(buyer, {product["id"]: 2}, {"method": "card", "token": "decline"})
        await wait_for(pushes, lambda p: p.data.get("version") == snap["version"] + 2)
        await watcher.close()
        await buyer.close()
        return snap, pushes

    snap, pushes = asyncio.run(run())
    events = of(pushes, snap["product_id"])
    assert [(e["stock"], e["version"]) for e in events] == [
        (snap["stock"] - 2, snap["version"] + 1),
        (snap["stock"], snap["version"] + 2),
    ]


def test_a_subscriber_that_stops_reading_gets_only_the_newest_values(servers):
    server = servers.start(
        "--metrics-port",
        "0",
        "--limit",
        "send_buffer_bytes=8192",
        "--limit",
        "connections_per_address_per_s=1000",
    )
    raw = RawConnection(server.port)
    raw.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    raw.hello()
    assert raw.call("auth.login", username="clerk", password=server.passwords["clerk"])["ok"]
    assert raw.call("stock.subscribe", all=True)["ok"]
    stalled = raw.sock  # from here on nobody reads it until the churn is over
    rss_before = rss_kib(server.proc.pid)
    changes = asyncio.run(churn(server, buyers=4, rounds=12))
    found = server.metrics()
    rss_after = rss_kib(server.proc.pid)
    moved = asyncio.run(moved_versions(server))
    pushes = drain(
        stalled,
        until=lambda seen: all(seen.get(pid) == version for pid, version in moved.items()),
    )
    stalled.close()
    assert found['warung_connections{state="paused"}'] == 1
    assert found['warung_pushes_total{outcome="conflated"}'] > 0  # the stalled one's
    stock_pushes = [p for p in pushes if p.get("event") == "stock"]
    assert len(stock_pushes) < changes / 2, (len(stock_pushes), changes)
    seqs = [p["seq"] for p in pushes if "event" in p]
    assert seqs == list(range(1, len(seqs) + 1))
    last_version: dict[int, int] = {}
    for push in stock_pushes:
        data = push["data"]
        assert data["version"] > last_version.get(data["product_id"], 0)
        last_version[data["product_id"]] = data["version"]
    print(
        f"\n{changes} stock changes, {len(stock_pushes)} pushes to the stalled reader; "
        f"server RSS {rss_before} KiB -> {rss_after} KiB"
    )
    assert rss_after - rss_before < 64 * 1024


async def churn(server: ServerProcess, buyers: int, rounds: int) -> int:
    """Buy and cancel many lines at once; returns how many stock changes were made."""
    clients = [await new_customer(server.port) for _ in range(buyers)]
    items = (await clients[0].call("catalog.list", limit=200))["items"]
    ids = [p["id"] for p in items if p["stock"] >= 2 * buyers][:60]
    changes = 0

    async def one(client):
        nonlocal changes
        for _ in range(rounds):
            await asyncio.gather(*(client.call("cart.add", product_id=i) for i in ids))
            order = await client.checkout(CARD)
            await client.call("order.cancel", order_id=order["id"])
            changes += 2 * len(ids)

    await asyncio.gather(*(one(c) for c in clients))
    for client in clients:
        await client.close()
    return changes


async def moved_versions(server: ServerProcess) -> dict[int, int]:
    """The current version of every product whose stock has moved."""
    client = await server.async_client("clerk")
    found = await client.subscribe_stock(None)
    await client.close()
    return {row["product_id"]: row["version"] for row in found if row["version"] > 1}


def drain(sock: socket.socket, until, timeout: float = 30.0) -> list[dict]:
    """Read pushes until `until(latest version by product)` holds; fail if the server closes
    or `timeout` seconds pass first."""
    deadline = time.monotonic() + timeout
    decoder = FrameDecoder(2**24)
    messages: list[dict[str, Any]] = []
    latest: dict[int, int] = {}
    while not until(latest):
        left = deadline - time.monotonic()
        assert left > 0, f"timed out after {timeout} s; latest versions: {latest}"
        sock.settimeout(left)
        data = sock.recv(1 << 20)
        assert data, f"the server closed the connection; latest versions: {latest}"
        for event in decoder.feed(data):
            assert isinstance(event, Message)
            messages.append(event.body)
            if event.body.get("event") == "stock":
                latest[event.body["data"]["product_id"]] = event.body["data"]["version"]
    return messages


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS"))


@pytest.mark.pg
def test_two_servers_on_postgresql_see_each_others_changes(servers, pg_schema_url):
    """Stock, a checkout paid and a part refunded on one server reach the other's clients."""
    init_demo(pg_schema_url)
    first, second = (servers.start(db_url=pg_schema_url) for _ in range(2))
    asyncio.run(across(first, second, pg_schema_url))


async def across(first: ServerProcess, second: ServerProcess, url: str) -> None:
    watcher = await second.async_client("clerk")
    pushes: list[Push] = []
    watcher.on_event(pushes.append)
    buyer_here = await first.async_client("customer")
    buyer_there = await second.async_client()  # the same customer on the other server
    assert buyer_here.token is not None  # signed in
    await buyer_there.resume(buyer_here.token)
    orders_there: list[Push] = []
    buyer_there.on_event(orders_there.append)
    items = (await watcher.call("catalog.list", limit=200))["items"]
    a, b = [p for p in items if p["stock"] >= 5][:2]
    await watcher.subscribe_stock([a["id"], b["id"]])

    order = await buy(buyer_here, {a["id"]: 1})
    event = await wait_for(pushes, lambda p: p.data.get("product_id") == a["id"])
    assert event.data == {
        "product_id": a["id"],
        "stock": a["stock"] - 1,
        "version": a["version"] + 1,
    }
    paid = await wait_for(orders_there, lambda p: p.event == "order" and p.data["status"] == "paid")
    assert paid.data["id"] == order["id"]

    # the listening connection of the watcher's server dies; a change made meanwhile still
    # arrives (by NOTIFY after the reconnect, or by the re-read of what moved)
    killed = terminate_listeners(url)
    assert killed >= 2
    second_order = await buy(buyer_here, {b["id"]: 2})
    event = await wait_for(
        pushes,
        lambda p: p.data.get("product_id") == b["id"] and p.data["stock"] == b["stock"] - 2,
        timeout=30,
    )
    assert event.data["version"] == b["version"] + 1

    # a refund of a part, on the first server, reaches the owner on the second
    clerk_here = await first.async_client("clerk")
    part = [{"product_id": b["id"], "qty": 1}]
    await clerk_here.call("clerk.refund", order_id=second_order["id"], lines=part, reason="x")
    told = await wait_for(
        orders_there,
        lambda p: p.event == "order" and p.data["lines"][0]["refunded_qty"] == 1,
    )
    assert (told.data["id"], told.data["status"]) == (second_order["id"], "paid")
    for client in (watcher, buyer_here, buyer_there, clerk_here):
        await client.close()


def terminate_listeners(url: str) -> int:
    base = url.split("?")[0]
    with psycopg2.connect(base) as conn, conn.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE application_name = 'warung-listen'"
        )
        row = cursor.fetchone()
        assert row is not None  # count() answers one row
        return row[0]


def test_snapshots_taken_meanwhile_never_hide_a_change_from_other_subscribers(shop):
    async def run():
        watcher = await shop.async_client("clerk")
        churner = await shop.async_client("admin")
        buyer = await new_customer(shop.port)
        pushes: list[Push] = []
        watcher.on_event(pushes.append)
        items = (await watcher.call("catalog.list", limit=200))["items"]
        product = next(p for p in items if p["stock"] >= 60)
        await watcher.subscribe_stock([product["id"]])
        stop = asyncio.Event()

        async def churn():
            while not stop.is_set():
                await churner.call("stock.subscribe", product_ids=[product["id"]])

        churning = asyncio.create_task(churn())
        for _ in range(25):
            order = await buy(buyer, {product["id"]: 1})
            await buyer.call("order.cancel", order_id=order["id"])
        stop.set()
        await churning
        final = (await churner.call("catalog.get", product_id=product["id"]))["version"]
        await wait_for(pushes, lambda p: p.data.get("version") == final)
        for client in (watcher, churner, buyer):
            await client.close()
        return product, final, pushes

    product, final, pushes = asyncio.run(run())
    versions = [e["version"] for e in of(pushes, product["id"])]
    assert versions == list(range(product["version"] + 1, final + 1))
