"""The SQLite writer process as a running server sees it: killed, restarted, never orphaned."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from protocol.client import AsyncClient
from protocol.client.blocking import Client
from protocol.errors import PaymentDeclined, Unavailable
from protocol.framing import encode
from server.wal import LIMIT_BYTES
from tests.e2e.harness import ServerProcess, Servers, wait_until
from tests.e2e.shopdb import add_product, facts, init_demo


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            stat = (entry / "stat").read_text()
        except (OSError, ValueError):
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return found


def writer_of(server: ServerProcess) -> int:
    assert server.proc is not None
    (pid,) = wait_until(lambda: children(server.proc.pid), what="the writer process")
    return pid


def gone(pid: int) -> bool:
    """Whether `pid` has ended: no such process, or a zombie (reaped, maybe, as we look)."""
    try:
        os.kill(pid, 0)
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (ProcessLookupError, FileNotFoundError):
        return True
    return stat.split(") ", 1)[1].startswith("Z")


@pytest.fixture
def shop_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    init_demo(url)
    return url


def test_a_killed_writer_is_replaced_and_writes_resume(servers: Servers, shop_url: str) -> None:
    product = add_product(shop_url, "W-1", stock=50)
    server = servers.start(db_url=shop_url)
    with server.client("customer") as client:
        _kill_the_writer_and_write_again(server, client, product)
    after = facts(shop_url, product)
    assert after["stock"] == 48
    assert after["problems"] == []
    assert "starting it again" in "".join(server.log)


def _kill_the_writer_and_write_again(server: ServerProcess, client: Client, product: int) -> None:
    client.call("cart.add", product_id=product, qty=1)
    first = writer_of(server)
    os.kill(first, signal.SIGKILL)
    wait_until(lambda: gone(first), what="the writer to die")
    # Reads go on meanwhile; writes are refused plainly, then work again.
    assert client.call("catalog.get", product_id=product)["id"] == product

    def cart_add() -> bool:
        try:
            client.call("cart.add", product_id=product, qty=1)
        except Unavailable:
            return False
        return True

    wait_until(cart_add, what="writes to resume")
    assert writer_of(server) != first
    order = client.checkout(payment={"method": "card", "token": "tok"})
    assert order["status"] == "paid"


def test_a_connection_has_at_most_four_writes_at_the_writer_and_the_rest_wait(
    servers: Servers, shop_url: str
) -> None:
    """The writer stopped (SIGSTOP), one connection pipelines ten cart changes and another
    sends one: the writer holds four of the first's and the other's, the server the first's
    other six, and once the writer runs again all eleven are answered, the first's in the
    order sent (`server.write_slots`)."""
    product = add_product(shop_url, "W-1", stock=500)
    server = servers.start("--metrics-port", "0", db_url=shop_url)
    flood, other = (server.raw() for _ in range(2))
    for conn in (flood, other):
        conn.call("auth.login", username="customer", password=server.passwords["customer"])
    # the server's own write of the sign-ins' audit entries, a second later, is not held
    wait_until(lambda: sign_ins_audited(shop_url) == 2, what="the sign-ins in the audit log")
    writer = writer_of(server)
    os.kill(writer, signal.SIGSTOP)
    try:
        asked = list(range(100, 110))  # sent in one write, read in one go
        flood.send_bytes(b"".join(encode(cart_set(product, request_id)) for request_id in asked))
        wait_until(lambda: writes(server) == (4, 6), what="the first's four at the writer")
        alone = other.request("cart.set", product_id=product, qty=1)
        wait_until(lambda: writes(server) == (5, 6), what="the other's at the writer too")
    finally:
        os.kill(writer, signal.SIGCONT)
    assert [flood.answer(request_id)["result"]["count"] for request_id in asked] == asked
    assert other.answer(alone)["ok"]
    assert writes(server) == (0, 0)


def cart_set(product: int, qty: int) -> dict[str, Any]:
    """A cart.set request whose id is its quantity."""
    return {"id": qty, "op": "cart.set", "args": {"product_id": product, "qty": qty}}


def writes(server: ServerProcess) -> tuple[float, float]:
    """Writes at the writer, and held in the server for a slot of their connection's."""
    samples = server.metrics()
    return samples["warung_db_writes_pending"], samples["warung_db_writes_held"]


def sign_ins_audited(url: str) -> int:
    with contextlib.closing(sqlite3.connect(url.removeprefix("sqlite:///"))) as db:
        row = db.execute("SELECT count(*) FROM audit_log WHERE action LIKE 'auth.login%'")
        return int(row.fetchone()[0])


def test_the_writer_ends_with_its_server(servers: Servers, shop_url: str) -> None:
    stopped = servers.start(db_url=shop_url)
    writer = writer_of(stopped)
    stopped.stop()
    assert gone(writer)
    killed = servers.start(db_url=shop_url)
    writer = writer_of(killed)
    killed.kill()
    wait_until(lambda: gone(writer), what="the orphaned writer to exit")


WAL_WRITES = 4000
PASSWORD = "secret-pass-1"
WAL_BOUND = 2 * LIMIT_BYTES  # the limit, plus a second of writes caught between two commits


def test_the_wal_stays_bounded_under_steady_writes_and_empties_when_they_stop(
    servers: Servers, shop_url: str, tmp_path: Path
) -> None:
    """Declined checkouts (a cart line set, an order begun and failed: ~40 KB of WAL each)
    from two customers while two others read; before the TRUNCATE policy the WAL passed
    150 MB by the end and kept that size."""
    product = add_product(shop_url, "WAL-1", stock=10)
    many_declines = ("--limit", "declines_per_account_per_hour=1000000")  # not what is tested
    server = servers.start(*many_declines, db_url=shop_url)
    wal = tmp_path / "shop.db-wal"
    largest = 0

    async def buyer(client: AsyncClient, writes: int) -> None:
        nonlocal largest
        for _ in range(writes // 2):
            await client.call("cart.set", product_id=product, qty=1)
            with pytest.raises(PaymentDeclined):
                await client.checkout({"method": "card", "token": "decline"})
            largest = max(largest, wal.stat().st_size)

    async def browser(client: AsyncClient, done: asyncio.Event) -> None:
        while not done.is_set():
            await client.call("catalog.list", limit=50)

    async def run() -> None:
        buyers = [await server.async_client("customer"), await server.async_client()]
        await buyers[1].call("auth.register", username="second-buyer", password=PASSWORD)
        await buyers[1].login("second-buyer", PASSWORD)  # a customer checks out one at a time
        browsers = [await server.async_client("customer") for _ in range(2)]
        done = asyncio.Event()
        readers = [asyncio.create_task(browser(c, done)) for c in browsers]
        await asyncio.gather(*(buyer(c, WAL_WRITES // len(buyers)) for c in buyers))
        done.set()
        await asyncio.gather(*readers)
        for client in buyers + browsers:
            await client.close()

    asyncio.run(run())
    assert 0 < largest < WAL_BOUND, f"the WAL reached {largest / 1e6:.0f} MB"
    wait_until(lambda: wal.stat().st_size == 0, what="the idle writer to truncate the WAL")
    assert facts(shop_url, product)["problems"] == []
