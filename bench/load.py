"""Load generator: N concurrent clients, closed loop, one request in flight each.

Prints requests/s (or checkouts/s) and p50/p99 latency for a scenario, each beside the
baseline measured in the same run: `ping` against a bare Twisted echo server.

    python bench/load.py --clients 100 --duration 10 --scenario all

Starts its own servers (a fresh SQLite demo shop in a temp dir with stock raised so the
run never sells out) unless `--port` points at a running warung-server.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import random
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from protocol.client import AsyncClient
from protocol.errors import OutOfStock

BENCH_PRODUCTS = 500
BENCH_STOCK = 10_000_000


@dataclass
class Result:
    name: str
    count: int = 0
    errors: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)

    def line(self) -> str:
        lat = sorted(self.latencies) or [0.0]
        p50 = lat[len(lat) // 2] * 1000
        p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000
        rate = self.count / self.seconds if self.seconds else 0
        return (
            f"{self.name:<28} {rate:>10,.0f}/s   p50 {p50:6.2f} ms   p99 {p99:7.2f} ms"
            f"   ({self.count} ok, {self.errors} errors)"
        )


def start(argv: list[str], pattern: str) -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    for line in proc.stdout:
        if found := re.search(pattern, line):
            return proc, int(found.group(1))
    raise RuntimeError(f"{argv[0]} did not start")


def bench_shop(workdir: Path) -> tuple[subprocess.Popen[str], int]:
    """A demo shop whose bench products hold enough stock for any run."""
    url = f"sqlite:///{workdir / 'bench.db'}"
    server = [sys.executable, "-m", "server.cli"]
    subprocess.run([*server, "init", "--db", url, "--demo"], check=True, capture_output=True)
    products = workdir / "bench.csv"
    with products.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["sku", "name", "description", "category", "price", "stock"])
        for i in range(BENCH_PRODUCTS):
            writer.writerow(
                [f"BENCH-{i:04d}", f"Bench item {i}", "load test", "Bench", 1000, BENCH_STOCK]
            )
    subprocess.run(
        [*server, "import-products", str(products), "--db", url], check=True, capture_output=True
    )
    return start(
        [*server, "serve", "--db", url, "--port", "0", "--demo"],
        r"listening on [\d.]+:(\d+)",
    )


async def connect_all(port: int, clients: int, sign_in: bool) -> list[AsyncClient]:
    async def one(i: int) -> AsyncClient:
        client = AsyncClient("127.0.0.1", port, call_timeout=None, reconnect=False)
        await client.connect()
        if sign_in:
            name = f"bench{i}-{random.randrange(10**9)}"
            await client.call("auth.register", username=name, password="bench-password")
            await client.login(name, "bench-password")
        return client

    return list(await asyncio.gather(*(one(i) for i in range(clients))))


Step = Callable[[AsyncClient, int], Awaitable[None]]


async def run(name: str, clients: list[AsyncClient], step: Step, duration: float) -> Result:
    result = Result(name)
    deadline = time.perf_counter() + duration

    async def loop(client: AsyncClient, index: int) -> None:
        while time.perf_counter() < deadline:
            began = time.perf_counter()
            try:
                await step(client, index)
            except OutOfStock:
                result.errors += 1
                continue
            result.latencies.append(time.perf_counter() - began)
            result.count += 1

    began = time.perf_counter()
    await asyncio.gather(*(loop(c, i) for i, c in enumerate(clients)))
    result.seconds = time.perf_counter() - began
    return result


async def bench_ids(client: AsyncClient) -> list[int]:
    found = await client.call("catalog.list", query="bench item", limit=200)
    return [p["id"] for p in found["items"]]


async def scenarios(args: argparse.Namespace, shop_port: int, echo_port: int) -> list[Result]:
    results = []
    echo = await connect_all(echo_port, args.clients, sign_in=False)
    results.append(await run("baseline: echo ping", echo, ping, args.duration))
    for client in echo:
        await client.close()
    shop = await connect_all(shop_port, args.clients, sign_in=True)
    ids = await bench_ids(shop[0])

    async def get(client: AsyncClient, i: int) -> None:
        await client.call("catalog.get", product_id=random.choice(ids))

    async def checkout(client: AsyncClient, i: int) -> None:
        await client.call("cart.add", product_id=random.choice(ids))
        await client.call(
            "order.checkout",
            idempotency_key=f"{i}-{time.perf_counter_ns()}",
            payment={"method": "card", "token": "tok"},
        )

    wanted = args.scenario
    if wanted in ("ping", "all"):
        results.append(await run("warung ping", shop, ping, args.duration))
    if wanted in ("catalog", "all"):
        results.append(await run("warung catalog.get", shop, get, args.duration))
    if wanted in ("checkout", "all"):
        results.append(await run("warung checkouts (2 req)", shop, checkout, args.duration))
    for client in shop:
        await client.close()
    return results


async def ping(client: AsyncClient, i: int) -> None:
    await client.call("ping")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--scenario", choices=("ping", "catalog", "checkout", "all"), default="all")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        shop, shop_port = bench_shop(Path(tmp))
        echo, echo_port = start(
            [sys.executable, str(Path(__file__).with_name("echo_server.py"))],
            r"listening on [\d.]+:(\d+)",
        )
        try:
            results = asyncio.run(scenarios(args, shop_port, echo_port))
        finally:
            shop.terminate()
            echo.terminate()
    print(f"{args.clients} clients, {args.duration:.0f} s each, one request in flight per client")
    for result in results:
        print(result.line())


if __name__ == "__main__":
    main()
