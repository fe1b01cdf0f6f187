"""The restore drill of docs/operations.md, on SQLite and on PostgreSQL: a real server takes
orders; `warung-server backup` runs while checkouts are under way; more orders follow; the
database is lost; `warung-server restore` puts the backup back; a server started on it serves
exactly the orders in the backup, their keys answer as before, and the invariants hold.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from db.conservation import check_conservation
from db.money import check_money
from db.url import parse_url
from protocol.client import AsyncClient
from tests.conftest import fresh_pg_schema
from tests.e2e.harness import ServerProcess, Servers, wait_while_running
from tests.e2e.shopdb import add_product, init_demo, opened
from tests.e2e.station import Station

CUSTOMERS = 3
PAYMENT_DELAY_S = 0.2  # so that checkouts are in flight while the backup runs
CARD = {"method": "card", "token": "tok"}
START_STOCK = 1000
DEADLINE_S = 20.0


@dataclass(frozen=True)
class Told:
    """An order as its customer was told of it, and when the checkout was sent and answered."""

    id: int
    customer: int
    key: str
    sent: float
    answered: float


@pytest.fixture(params=["sqlite", pytest.param("pg", marks=pytest.mark.pg)])
def shop_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'shop.db'}"
        return
    if not (shutil.which("pg_restore") and shutil.which("psql")):
        pytest.skip("needs pg_dump, pg_restore and psql (postgresql-client)")
    with fresh_pg_schema("drill") as url:
        yield url


def test_a_backup_taken_during_checkouts_restores_exactly_its_orders(
    shop_url: str, servers: Servers, tmp_path: Path
) -> None:
    init_demo(shop_url)
    product = add_product(shop_url, "DRILL-1", START_STOCK)
    options = ("--payment-delay", str(PAYMENT_DELAY_S))
    server = servers.start(*options, db_url=shop_url)
    backup = tmp_path / "shop.backup"
    told, tokens, window = asyncio.run(orders_around_a_backup(server, product, backup))
    server.stop()
    started, finished = window
    in_backup = orders_in(backup, shop_url)
    before = {t.id for t in told.values() if t.answered < started}
    after = {t.id for t in told.values() if t.sent > finished}
    assert before and after and len(told) > len(before) + len(after)
    assert before <= in_backup.keys(), "an order answered before the backup began is missing"
    assert not after & in_backup.keys(), "an order sent after the backup ended is in it"
    assert in_backup.keys() <= {t.id for t in told.values()}

    wreck(shop_url)
    done = cli("restore", "--db", shop_url, str(backup), "--force")
    assert done.returncode == 0, done.stderr
    assert f"; {len(in_backup)} orders," in done.stderr

    again = servers.start(*options, db_url=shop_url)
    served = asyncio.run(served_orders(again, tokens, told, before))
    assert served.keys() == in_backup.keys()
    for order_id, status in served.items():  # a pending one may be settled by now
        assert status == in_backup[order_id] or in_backup[order_id] == "pending", order_id
    with opened(shop_url) as db:
        assert check_conservation(db) == []
        assert check_money(db) == []
        ((stock,),) = db.execute_sql(f"SELECT stock FROM products WHERE id = {product}")
        ((held,),) = db.execute_sql(
            "SELECT COALESCE(SUM(l.qty), 0) FROM order_lines l JOIN orders o ON o.id = "
            f"l.order_id WHERE o.status <> 'cancelled' AND l.product_id = {product}"
        )
    assert stock == START_STOCK - held
    for started_server in (server, again):
        assert not [line for line in started_server.log if "#critical" in line]
    during = len(told) - len(before) - len(after)
    pending = list(in_backup.values()).count("pending")
    print(
        f"\n{len(told)} orders: {len(before)} answered before the backup began (all in it), "
        f"{during} under way while it ran ({len(in_backup) - len(before)} in it, {pending} "
        f"of them pending), {len(after)} sent after it (none in it); the backup command took "
        f"{(finished - started) * 1000:.0f} ms"
    )


async def orders_around_a_backup(
    server: ServerProcess, product: int, backup: Path
) -> tuple[dict[str, Told], list[str], tuple[float, float]]:
    """Customers check out one unit at a time without pause; the backup runs once each has
    two orders, and the checkouts go on until each has two more sent after it ended."""
    stations = [await Station.new_customer(server.port) for _ in range(CUSTOMERS)]
    told: dict[str, Told] = {}
    window: list[float] = []
    stop = asyncio.Event()

    async def shop(customer: int, client: AsyncClient) -> None:
        while not stop.is_set():
            await client.call("cart.add", product_id=product, qty=1)
            key, sent = secrets.token_hex(8), time.monotonic()
            order = await client.checkout(CARD, idempotency_key=key)
            told[key] = Told(order["id"], customer, key, sent, time.monotonic())

    def each_has(n: int, since: float) -> bool:
        return len([t for t in told.values() if t.sent > since]) >= n * CUSTOMERS

    buying = asyncio.gather(*(shop(i, s.client) for i, s in enumerate(stations)))
    await wait_while_running(buying, lambda: each_has(2, 0.0), DEADLINE_S, "orders")
    window.append(time.monotonic())
    done = await asyncio.to_thread(cli, "backup", "--db", server.db_url, str(backup))
    window.append(time.monotonic())
    assert done.returncode == 0, done.stderr
    await wait_while_running(buying, lambda: each_has(2, window[1]), DEADLINE_S, "more orders")
    stop.set()
    await buying
    tokens = [s.client.token for s in stations]
    for station in stations:
        await station.client.close()
    assert all(tokens)
    return told, [t for t in tokens if t], (window[0], window[1])


async def served_orders(
    server: ServerProcess, tokens: list[str], told: dict[str, Told], before: set[int]
) -> dict[int, str]:
    """Every order the restored server shows its customers (who resume their sessions: the
    backup holds them), after checking that each order answered before the backup is what
    its key gives back (no second order)."""
    clients = []
    for token in tokens:
        client = AsyncClient("127.0.0.1", server.port)
        await client.connect()
        await client.resume(token)
        clients.append(client)
    for told_order in told.values():
        if told_order.id in before:
            again = await clients[told_order.customer].call(
                "order.checkout", idempotency_key=told_order.key, payment=CARD
            )
            assert again["id"] == told_order.id
    served: dict[int, str] = {}
    for client in clients:
        page = await client.call("order.list", limit=100)
        assert page["next_cursor"] is None
        served.update({o["id"]: o["status"] for o in page["items"]})
        await client.close()
    return served


def orders_in(backup: Path, url: str) -> dict[int, str]:
    """The orders (id: status) in a backup file, read from the file itself."""
    if parse_url(url).kind == "sqlite":
        copy = sqlite3.connect(f"file:{backup}?mode=ro", uri=True)
        try:
            return dict(copy.execute("SELECT id, status FROM orders"))
        finally:
            copy.close()
    script = subprocess.run(
        ["pg_restore", "--data-only", "--table=orders", "-f", "-", str(backup)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    found = re.search(r"^COPY \S+ \((.*?)\) FROM stdin;\n(.*?)^\\\.$", script, re.M | re.S)
    assert found, script
    columns = found.group(1).split(", ")
    rows = [line.split("\t") for line in found.group(2).splitlines()]
    return {int(row[columns.index("id")]): row[columns.index("status")] for row in rows}


def wreck(url: str) -> None:
    """Lose the database: the SQLite file overwritten with zeros, the PostgreSQL schema
    dropped with everything in it."""
    parsed = parse_url(url)
    if parsed.kind == "sqlite":
        Path(parsed.path).write_bytes(b"\0" * 8192)
        return
    with opened(url) as db:
        ((schema,),) = db.execute_sql("SELECT current_schema()")
        db.execute_sql(f'DROP SCHEMA "{schema}" CASCADE')


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "server.cli", *args], capture_output=True, text=True, timeout=60
    )
