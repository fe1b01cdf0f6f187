"""Fan-out latency: from a checkout to its stock event at 1, 100 and 1,000 subscribers,
on one server (SQLite) and across two servers sharing PostgreSQL (LISTEN/NOTIFY).

Latency is measured from the moment the buyer sends `order.checkout` to the moment each
subscriber has the `stock` event in hand, so it includes the request's trip and the first
transaction's commit. The 1-subscriber row is the baseline for the larger fan-outs.

    python bench/fanout.py [--rounds 20] [--pg postgresql://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

import psycopg2

from bench.stats import percentile_ms
from protocol.client import AsyncClient
from protocol.rules import DEMO_ACCOUNT_RE

SERVE = [sys.executable, "-m", "server.cli"]
LIMITS = [
    "--limit",
    "connections_per_address_per_s=5000",
    "--limit",
    "connection_burst_per_address=5000",
    "--limit",
    "max_connections_per_address=100000",
]


def serve(url: str) -> tuple[subprocess.Popen[str], int, dict[str, str]]:
    proc = subprocess.Popen(
        [*SERVE, "serve", "--db", url, "--port", "0", "--demo", *LIMITS],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    passwords = {}
    for line in proc.stdout:
        if found := DEMO_ACCOUNT_RE.search(line):
            passwords[found.group(1)] = found.group(2)
        if "listening on" in line:
            return proc, int(line.rsplit(":", 1)[1]), passwords
    raise RuntimeError("server did not start")


async def measure(buy_port: int, watch_port: int, passwords: dict, subscribers: int, rounds: int):
    buyer = AsyncClient("127.0.0.1", buy_port, call_timeout=None)
    await buyer.connect()
    await buyer.login("customer", passwords["customer"])
    items = (await buyer.call("catalog.list", limit=200))["items"]
    product = max(items, key=lambda p: p["stock"])
    token = buyer.token
    assert token is not None, "the buyer signed in"
    arrived: list[float] = []
    watchers = []

    async def watcher() -> AsyncClient:
        client = AsyncClient("127.0.0.1", watch_port, call_timeout=None)
        await client.connect()
        await client.resume(token)
        await client.subscribe_stock([product["id"]])
        client.on_event(lambda push: arrived.append(time.perf_counter()))
        return client

    for start_at in range(0, subscribers, 100):
        batch = min(100, subscribers - start_at)
        watchers += await asyncio.gather(*(watcher() for _ in range(batch)))
    latencies = []
    for _ in range(rounds):
        await buyer.call("cart.clear")
        await buyer.call("cart.add", product_id=product["id"])
        arrived.clear()
        sent = time.perf_counter()
        order = await buyer.call(
            "order.checkout",
            idempotency_key=secrets.token_hex(8),
            payment={"method": "card", "token": "t"},
        )
        await buyer.call("order.cancel", order_id=order["id"])  # keeps the stock level
        while len(arrived) < 2 * subscribers:  # the sale and the cancel
            await asyncio.sleep(0.001)
        firsts = sorted(arrived)[:subscribers]
        latencies += [t - sent for t in firsts]
    for client in [buyer, *watchers]:
        await client.close()
    return sorted(latencies)


def line(name: str, subscribers: int, lat: list[float]) -> str:
    return (
        f"{name:<22} {subscribers:>5} subscribers   p50 {percentile_ms(lat, 0.5):7.2f} ms   "
        f"p99 {percentile_ms(lat, 0.99):7.2f} ms   max {percentile_ms(lat, 1.0):7.2f} ms"
    )


def fresh_schema(base: str) -> tuple[str, str]:
    schema = f"bench_{secrets.token_hex(4)}"
    with psycopg2.connect(base) as conn, conn.cursor() as cursor:
        cursor.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in base else "?"
    return schema, f"{base}{sep}options={quote(f'-csearch_path={schema}', safe='')}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--sizes", default="1,100,1000")
    args = parser.parse_args()
    sizes = [int(n) for n in args.sizes.split(",")]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        proc, port, passwords = serve(f"sqlite:///{Path(tmp) / 'fan.db'}")
        try:
            for n in sizes:
                rows.append(
                    line(
                        "one server (SQLite)",
                        n,
                        asyncio.run(measure(port, port, passwords, n, args.rounds)),
                    )
                )
        finally:
            proc.terminate()
    schema, url = fresh_schema(args.pg)
    try:
        first, port_a, passwords = serve(url)
        second, port_b, _ = serve(url)
        try:
            for n in sizes:
                rows.append(
                    line(
                        "two servers (PG)",
                        n,
                        asyncio.run(measure(port_a, port_b, passwords, n, args.rounds)),
                    )
                )
        finally:
            first.terminate()
            second.terminate()
            first.wait()
            second.wait()
    finally:
        with psycopg2.connect(args.pg) as conn, conn.cursor() as cursor:
            cursor.execute(f'DROP SCHEMA "{schema}" CASCADE')
    print(f"checkout sent -> stock event received, {args.rounds} checkouts per row")
    for row in rows:
        print(row)


if __name__ == "__main__":
    main()
