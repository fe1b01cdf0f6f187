"""The database floors of a checkout: the statements the server's three write jobs run for
one checkout (`change_cart`, `begin_checkout`, `mark_paid`, as traced from the writer),
sent by a plain loop with nothing else around them.

- SQLite: raw `sqlite3`, the writer's pragmas, `per_commit` checkouts to a commit (the
  writer's group commit); CPU per checkout of this process.
- PostgreSQL: psycopg2, one commit per checkout, on one connection or several (threads);
  checkouts/s, the p50 of one checkout's transaction, and this process's CPU per checkout
  (the client side of the same statements, which a warung server also pays).

Both run on a shop `bench.shop.prepare` made (`bench.shop.CUSTOMER` buys, stock never runs out).
"""

from __future__ import annotations

import sqlite3
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from itertools import count
from typing import Any

import psycopg2

from bench.shop import CUSTOMER
from server import sql
from server.services.cart import CART_AND_PRODUCT
from server.services.order_jobs import CART_AND_KEY

Execute = Callable[[str, tuple[Any, ...]], Any]  # runs one statement, returns a cursor

_keys = count()


def checkout(execute: Execute, user_id: int, product_id: int, run: str) -> None:
    """One checkout's statements, in the order the write jobs run them."""
    now, key = sql.now(), f"floor-{run}-{next(_keys)}"
    # change_cart
    _, sku, name, _, price, *_ = execute(CART_AND_PRODUCT, (user_id, product_id)).fetchall()[-1]
    execute(
        "INSERT INTO cart_lines (user_id, product_id, qty, added_at) VALUES (?, ?, 1, ?)",
        (user_id, product_id, now),
    )
    # begin_checkout
    execute(CART_AND_KEY, (user_id, user_id, key, user_id)).fetchall()
    order_id, _ = execute(
        "INSERT INTO orders (customer_id, clerk_id, register_id, status, channel, total, "
        "currency, idempotency_key, created_at, updated_at) "
        "VALUES (?, NULL, NULL, 'pending', 'online', ?, 'IDR', ?, ?, ?) "
        "RETURNING id, (SELECT username FROM users WHERE users.id = orders.customer_id)",
        (user_id, price, key, now, now),
    ).fetchone()
    execute(
        "INSERT INTO idempotency_keys (user_id, key, fingerprint, order_id, created_at) "
        "VALUES (?, ?, 'print', ?, ?)",
        (user_id, key, order_id, now),
    )
    stock, _ = execute(
        "UPDATE products SET stock = stock - 1, version = version + 1, updated_at = ? "
        "WHERE id = ? AND stock - 1 >= 0 RETURNING stock, version",
        (now, product_id),
    ).fetchone()
    execute(
        "INSERT INTO stock_movements (product_id, kind, delta, stock_after, order_id, user_id, "
        "reason, created_at) VALUES (?, 'sale', -1, ?, ?, ?, NULL, ?)",
        (product_id, stock, order_id, user_id, now),
    )
    execute(
        "INSERT INTO order_lines (order_id, product_id, sku, name, qty, unit_price, line_total, "
        "refunded_qty) VALUES (?, ?, ?, ?, 1, ?, ?, 0)",
        (order_id, product_id, sku, name, price, price),
    )
    execute(
        "INSERT INTO payments (order_id, provider, method, amount, status, created_at, "
        "updated_at) VALUES (?, 'fake', 'card', ?, 'pending', ?, ?)",
        (order_id, price, now, now),
    )
    # mark_paid
    execute(
        "UPDATE orders SET status = 'paid', updated_at = ? WHERE id = ? AND status = 'pending'",
        (now, order_id),
    )
    execute(
        "UPDATE payments SET status = 'captured', reference = 'ref', updated_at = ? "
        "WHERE order_id = ?",
        (now, order_id),
    )
    execute(
        "DELETE FROM cart_lines WHERE user_id = (SELECT customer_id FROM orders WHERE id = ?) "
        "AND product_id IN (SELECT product_id FROM order_lines WHERE order_id = ?)",
        (order_id, order_id),
    )
    execute(
        "UPDATE idempotency_keys SET response = ? WHERE order_id = ?",
        (b"\x81\xa8order_id\x01", order_id),
    )


def bench_customer(execute: Execute) -> int:
    found = execute("SELECT id FROM users WHERE username = ?", (CUSTOMER,)).fetchone()
    return int(found[0])


@dataclass
class SqliteFloor:
    checkouts: int
    cpu_s: float
    seconds: float

    @property
    def cpu_us(self) -> float:
        return self.cpu_s / self.checkouts * 1e6


def sqlite_floor(
    path: str, product_ids: list[int], checkouts: int, per_commit: int = 100
) -> SqliteFloor:
    """`checkouts` checkouts, `per_commit` to a transaction, with the writer's pragmas."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        for pragma in ("journal_mode=wal", "foreign_keys=1", "synchronous=normal"):
            conn.execute(f"PRAGMA {pragma}")
        conn.execute("PRAGMA temp_store=memory")
        user = bench_customer(conn.execute)
        run = str(time.perf_counter_ns())
        cpu, began = time.process_time(), time.perf_counter()
        for start in range(0, checkouts, per_commit):
            conn.execute("BEGIN IMMEDIATE")
            for i in range(start, min(checkouts, start + per_commit)):
                checkout(conn.execute, user, product_ids[i % len(product_ids)], run)
            conn.execute("COMMIT")
        return SqliteFloor(checkouts, time.process_time() - cpu, time.perf_counter() - began)
    finally:
        conn.close()


@dataclass
class PgFloor:
    connections: int
    checkouts: int
    seconds: float
    latencies: list[float]
    cpu_s: float  # of this process: psycopg2 and libpq's side of every checkout

    @property
    def cpu_us(self) -> float:
        return self.cpu_s / max(1, self.checkouts) * 1e6

    @property
    def rate(self) -> float:
        return self.checkouts / self.seconds

    @property
    def p50_ms(self) -> float:
        return statistics.median(self.latencies) * 1000


def pg_floor(url: str, product_ids: list[int], connections: int, seconds: float) -> PgFloor:
    """`connections` threads, each its own psycopg2 connection, one commit per checkout,
    for `seconds`; each thread buys its own products so the rows they lock differ."""
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds

    def loop(index: int) -> None:
        conn = psycopg2.connect(url)
        cursor = conn.cursor()

        def execute(statement: str, args: tuple[Any, ...]) -> Any:
            cursor.execute(statement.replace("?", "%s"), args)
            return cursor

        user = bench_customer(execute)
        conn.commit()
        mine = product_ids[index::connections]
        run = f"{index}-{time.perf_counter_ns()}"
        done = 0
        while (began := time.perf_counter()) < deadline:
            checkout(execute, user, mine[done % len(mine)], run)
            conn.commit()
            latencies.append(time.perf_counter() - began)
            done += 1
        conn.close()

    threads = [threading.Thread(target=loop, args=(i,)) for i in range(connections)]
    cpu, began = time.process_time(), time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds, cpu = time.perf_counter() - began, time.process_time() - cpu
    return PgFloor(connections, len(latencies), seconds, latencies, cpu)
