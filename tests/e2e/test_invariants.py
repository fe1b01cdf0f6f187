"""Issue 13's invariant workload: customers check out and cancel while clerks sell at open
tills (some sales rung up offline and sent late, never refused for stock: issue 20),
restock, adjust and refund, every call with its key where the op takes one, on one
SQLite server and on two servers sharing PostgreSQL with one killed (`kill -9`) in the
middle and started again while its clients retry what went unanswered.

Afterwards the database and what the clients were told (tests/e2e/workload.py's `Ledger`)
must agree: stock is the start plus restocks and adjustments minus what live orders hold
plus the shortfalls of offline sales;
no stock below zero; no refund above what was paid per line; every till balances; every
order a client was told of is there with that status or a later one, one order and one
charge per key, and nothing else was done.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from typing import Any

import peewee as pw
import pytest

from db.accounts import create_user
from db.conservation import check_conservation
from db.money import check_money
from protocol.client import AsyncClient
from tests.e2e.harness import ServerProcess
from tests.e2e.shopdb import add_product, init_demo, opened
from tests.e2e.workload import (
    LATER,
    Actor,
    Careful,
    Ledger,
    Traffic,
    clerk_turn,
    close_till,
    customer_turn,
    open_till,
    run_actor,
)

SEED = 13
CUSTOMERS, CLERKS = 4, 3
TURNS = 30  # per user
PRODUCTS = {"INV-A": 12_500, "INV-B": 3_000, "INV-C": 47_000, "INV-D": 8_800, "INV-E": 1_500}
START_STOCK = 20
OPENING_CASH = 500_000
WORKLOAD_S = 45.0  # every wait of the workload ends by then
PASSWORD = "invariant-pass"
CUSTOMER_NAMES = [f"customer{n}" for n in range(CUSTOMERS)]
CLERK_NAMES = [f"clerk{n}" for n in range(CLERKS)]
NAMES = CUSTOMER_NAMES + CLERK_NAMES


def seed_shop(url: str) -> dict[int, int]:
    """The demo shop, the workload's products and users; the products' prices by id."""
    init_demo(url)
    prices = {add_product(url, sku, START_STOCK, price): price for sku, price in PRODUCTS.items()}
    with opened(url):
        for name in NAMES:
            create_user(name, PASSWORD, "clerk" if name in CLERK_NAMES else "customer")
    return prices


async def connect(name: str, port: int, traffic: Traffic, deadline: float) -> Careful:
    client = AsyncClient("127.0.0.1", port, backoff_min=0.05, backoff_max=0.25, call_timeout=20)
    await client.connect()
    await client.login(name, PASSWORD)
    return Careful(client, traffic, deadline)


async def workload(
    servers: list[ServerProcess], prices: dict[int, int], victim: ServerProcess | None = None
) -> tuple[Ledger, list[Actor], list[dict[str, Any]]]:
    """Run every user's turns (killing and restarting `victim` midway); close the tills."""
    deadline = time.monotonic() + WORKLOAD_S
    traffic, ledger = Traffic(f"{SEED}-kill"), Ledger(prices)
    actors = [
        Actor(
            name,
            await connect(name, servers[i % len(servers)].port, traffic, deadline),
            random.Random(f"{SEED}-{name}"),
            ledger,
        )
        for i, name in enumerate(NAMES)
    ]
    clerks = actors[CUSTOMERS:]
    for me in clerks:
        await open_till(me, OPENING_CASH)
    restarted = asyncio.create_task(kill_midway(victim, traffic)) if victim else None
    await asyncio.gather(
        *(run_actor(me, customer_turn, TURNS) for me in actors[:CUSTOMERS]),
        *(run_actor(me, clerk_turn, TURNS) for me in clerks),
    )
    if restarted is not None:
        await asyncio.wait_for(restarted, max(0.0, deadline - time.monotonic()))
    closed = [await close_till(me) for me in clerks]
    for me in actors:
        await me.careful.client.close()
    return ledger, actors, closed


async def kill_midway(victim: ServerProcess, traffic: Traffic) -> None:
    """`kill -9` the victim midway, just after a call left for it, and start it again on its
    port, where its clients reconnect and repeat what went unanswered."""
    killed = asyncio.Event()

    def kill() -> None:
        victim.kill()
        killed.set()

    traffic.kill_when_quiet(victim.port, (CUSTOMERS + CLERKS) * TURNS, kill)
    await killed.wait()
    await asyncio.to_thread(victim.start, victim.port)


# -- the checks


def check_everything(url: str, ledger: Ledger, closed: list[dict[str, Any]]) -> None:
    with opened(url) as db:
        assert check_conservation(db) == []
        assert check_money(db) == []
        check_stock(db, ledger)
        check_orders(db, ledger)
        check_keys(db, ledger)
        check_refunds(db, ledger)
    check_tills(ledger, closed)


def check_stock(db: pw.Database, ledger: Ledger) -> None:
    """Stock = start + restocks + adjustments - units live orders hold (refunded units are
    back) + the units offline sales sold that the stock did not hold (their shortfalls),
    from the database's own rows and from what the clients were told."""
    stock = dict(db.execute_sql("SELECT id, stock FROM products").fetchall())
    moved: Counter[int] = Counter()
    for pid, delta in db.execute_sql(
        "SELECT product_id, delta FROM stock_movements WHERE kind IN ('restock', 'adjustment')"
    ):
        moved[pid] += delta
    held: Counter[int] = Counter()
    for pid, units in db.execute_sql(
        "SELECT l.product_id, l.qty - l.refunded_qty FROM order_lines l "
        "JOIN orders o ON o.id = l.order_id WHERE o.status <> 'cancelled'"
    ):
        held[pid] += units
    short: Counter[int] = Counter()
    for pid, units in db.execute_sql("SELECT product_id, qty FROM shortfalls"):
        short[pid] += units
    told_moved: Counter[int] = Counter()
    for pid, delta in ledger.stock_keys.values():
        told_moved[pid] += delta
    told_held: Counter[int] = Counter()
    for order in ledger.orders.values():
        told_held.update(order.holds)
    for pid in ledger.prices:
        assert stock[pid] == START_STOCK + moved[pid] - held[pid] + short[pid], (pid, stock[pid])
        assert (moved[pid], held[pid]) == (told_moved[pid], told_held[pid]), pid
    assert min(stock.values()) >= 0
    (offline,) = db.execute_sql(
        "SELECT COUNT(*) FROM orders WHERE offline_at IS NOT NULL"
    ).fetchone()
    assert offline > 0, "no offline sale was made"
    (lowest,) = db.execute_sql("SELECT MIN(stock_after) FROM stock_movements").fetchone()
    assert lowest >= 0


def check_orders(db: pw.Database, ledger: Ledger) -> None:
    """Every order told is there with its lines and the status told or a later one; no order
    was made that no client was told of; none is left pending."""
    rows = db.execute_sql(
        "SELECT id, status, channel, total, idempotency_key FROM orders"
    ).fetchall()
    found = {row[0]: row[1:] for row in rows}
    assert found.keys() == ledger.orders.keys(), "orders made that no client was told of"
    for order_id, (status, channel, total, key) in found.items():
        told = ledger.orders[order_id]
        assert status in LATER[told.status], (order_id, status, told)
        assert (channel, total, key) == (told.channel, told.total, told.key), (order_id, told)
        lines = db.execute_sql(
            f"SELECT product_id, qty, refunded_qty FROM order_lines WHERE order_id = {order_id}"
        ).fetchall()
        assert {pid: qty for pid, qty, _ in lines} == told.lines, order_id
        assert Counter({pid: refunded for pid, _, refunded in lines}) == told.refunded, order_id


def check_keys(db: pw.Database, ledger: Ledger) -> None:
    """One order per key and one charge per paid order; each stock key moved stock once."""
    (reused,) = db.execute_sql(
        "SELECT COUNT(*) FROM (SELECT idempotency_key FROM orders "
        "GROUP BY idempotency_key HAVING COUNT(*) > 1) d"
    ).fetchone()
    assert reused == 0, "a key made two orders"
    charges = db.execute_sql(
        "SELECT o.id, COUNT(p.id) FROM orders o JOIN payments p ON p.order_id = o.id "
        "WHERE p.status IN ('captured', 'refunded') GROUP BY o.id"
    ).fetchall()
    paid = {o.id for o in ledger.orders.values() if not o.declined}
    assert dict(charges) == dict.fromkeys(paid, 1), "an order charged twice, or never"
    (duplicates,) = db.execute_sql(
        "SELECT COUNT(*) FROM (SELECT reference FROM payments WHERE reference IS NOT NULL "
        "GROUP BY reference HAVING COUNT(*) > 1) d"
    ).fetchone()
    assert duplicates == 0, "one provider charge on two payments"
    moves = Counter(
        reason
        for (reason,) in db.execute_sql(
            "SELECT reason FROM stock_movements WHERE kind IN ('restock', 'adjustment')"
        )
    )
    assert moves == Counter(ledger.stock_keys.keys()), "a stock key applied twice, or untold"


def check_refunds(db: pw.Database, ledger: Ledger) -> None:
    """Each refund told is there once, as told; no refund was made that none was told of."""
    rows = db.execute_sql(
        "SELECT id, reason, order_id, amount, method, register_id FROM refunds"
    ).fetchall()
    found = {reason: (rid, *rest) for rid, reason, *rest in rows}
    assert len(found) == len(rows) and found.keys() == ledger.refunds.keys()
    for key, told in ledger.refunds.items():
        want = (told["id"], told["order_id"], told["amount"], told["method"], told["register_id"])
        assert found[key] == want, key


def check_tills(ledger: Ledger, closed: list[dict[str, Any]]) -> None:
    """Each till expected what its clerk was told: opening + cash sales - cash refunds."""
    tills = {till.register_id: till for till in ledger.tills.values()}
    for register in closed:
        till = tills[register["id"]]
        assert register["expected_cash"] == till.expected, (register, till)
        assert register["difference"] == register["counted_cash"] - till.expected
        assert register["status"] == "closed"
    assert sum(t.cash_sales for t in tills.values()) > 0, "no cash sale was made"


def check_mix(ledger: Ledger) -> None:
    """The workload did what it is for: every kind of call, refusals included."""
    statuses = Counter(o.status for o in ledger.orders.values())
    channels = Counter(o.channel for o in ledger.orders.values())
    assert statuses["cancelled"] and statuses["refunded"] and channels["pos"] > 10
    assert ledger.refunds and ledger.stock_keys
    assert ledger.refused["out_of_stock"] and ledger.refused["payment_declined"]
    assert len(ledger.repeats) == 5, ledger.repeats  # every keyed op was sent twice


def test_the_invariants_hold_on_one_sqlite_server(servers: Any, tmp_path: Any) -> None:
    url = f"sqlite:///{tmp_path / 'invariants.db'}"
    prices = seed_shop(url)
    server = servers.start(db_url=url)
    ledger, _, closed = asyncio.run(workload([server], prices))
    check_mix(ledger)
    check_everything(url, ledger, closed)


@pytest.mark.pg
def test_the_invariants_hold_on_two_servers_with_one_killed(
    servers: Any, pg_schema_url: str
) -> None:
    prices = seed_shop(pg_schema_url)
    here, there = (servers.start(db_url=pg_schema_url) for _ in range(2))
    ledger, actors, closed = asyncio.run(workload([here, there], prices, victim=there))
    cut = [me for i, me in enumerate(actors) if i % 2 == 1]
    assert all(me.careful.drops >= 1 for me in cut), "a client of the killed server"
    check_mix(ledger)
    check_everything(pg_schema_url, ledger, closed)
