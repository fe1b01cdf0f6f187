"""Load generator: N concurrent clients, closed loop, one request in flight each.

Prints requests/s (or checkouts/s, or sales/s), p50/p99 latency, and the CPU time per request of the
generator and of the server (with its writer process), for a scenario, each beside the
baseline measured in the same run: `ping` against a bare Twisted echo server, sent by the
same clients. On a noisy machine the server's CPU per request is the steadier figure.

    python bench/load.py --clients 100 --duration 10 --scenario all

The `pos` scenario measures the point of sale beside the online shop: the clients check out
(cart.add + order.checkout), then `--clerks` clerks (default 20), each with a register of
their own open, ring up one-line cash sales (`clerk.sale`), one in flight per clerk.

Starts its own servers (a fresh SQLite demo shop in a temp dir with stock raised so the
run never sells out) unless `--port` points at a running warung-server on 127.0.0.1 whose
catalog holds the BENCH- products and, for `pos`, the clerks bench-clerk-<i> with the
bench password (see `bench_shop`); the echo server is always started.

The clients are `bench.lean_client.LeanClient`s in `bench.loops`' closed loop.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import random
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.lean_client import HOST, BenchError, LeanClient, Step
from bench.loops import Result, run
from protocol.rules import DEFAULT_MAX_FRAME, PROTOCOL_VERSION

BENCH_PRODUCTS = 500
BENCH_STOCK = 10_000_000
PASSWORD = "bench-password"
PAYMENT = {"method": "card", "token": "tok"}
# every client signs up and in from this one address, all at once: lift those limits
MANY_SIGN_UPS = (
    "--limit",
    "registrations_per_address_per_hour=1000000",
    "--limit",
    "failed_logins_per_address_per_min=1000000",
)
CASH = {"method": "cash"}


def start(argv: list[str], pattern: str) -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    for line in proc.stdout:
        if found := re.search(pattern, line):
            return proc, int(found.group(1))
    raise RuntimeError(f"{argv[0]} did not start")


def clerk_name(index: int) -> str:
    return f"bench-clerk-{index}"


def bench_shop(workdir: Path, clerks: int) -> tuple[subprocess.Popen[str], int]:
    """A demo shop whose bench products hold enough stock for any run, and `clerks` clerks."""
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
    for index in range(clerks):
        add_clerk = ["user", "add", clerk_name(index), "--role", "clerk", "--password-stdin"]
        subprocess.run(
            [*server, *add_clerk, "--db", url],
            input=PASSWORD,
            text=True,
            check=True,
            capture_output=True,
        )
    return start(
        [*server, "serve", "--db", url, "--port", "0", "--demo", *MANY_SIGN_UPS, *LOOPBACK_LIMITS],
        r"listening on [\d.]+:(\d+)",
    )


LOOPBACK_LIMITS = ("--limit", "max_connections_per_address=100000")  # every client is local


async def connect(port: int, index: int, sign_in: bool) -> LeanClient:
    """A lean client that has said hello and, with `sign_in`, registered and signed in as a
    new customer."""
    loop = asyncio.get_running_loop()
    _, client = await loop.create_connection(LeanClient, HOST, port)
    await client.call(
        "hello", protocol=PROTOCOL_VERSION, client="warung-bench/0.1", max_frame=DEFAULT_MAX_FRAME
    )
    if sign_in:
        name = f"bench{index}-{random.randrange(10**9)}"
        await client.call("auth.register", username=name, password=PASSWORD)
        await client.call("auth.login", username=name, password=PASSWORD)
    return client


async def connect_all(port: int, clients: int, sign_in: bool) -> list[LeanClient]:
    return list(await asyncio.gather(*(connect(port, i, sign_in) for i in range(clients))))


async def clerk_at_till(port: int, index: int) -> LeanClient:
    """Clerk `index`, signed in, with a register of their own open (the run closes it)."""
    client = await connect(port, index, sign_in=False)
    await client.call("auth.login", username=clerk_name(index), password=PASSWORD)
    await client.call("clerk.register.open", station=f"bench-till-{index}", opening_cash=0)
    return client


async def close_tills(clerks: list[LeanClient]) -> None:
    await asyncio.gather(*(c.call("clerk.register.close", counted_cash=0) for c in clerks))


async def bench_ids(client: LeanClient) -> list[int]:
    found = await client.call("catalog.list", query="bench item", limit=200)
    ids = [p["id"] for p in found.get("items", [])]
    if not ids:
        raise BenchError("the shop has no BENCH- products (catalog.list 'bench item')")
    return ids


def shop_scenarios(wanted: str, ids: list[int]) -> list[tuple[str, list[Step]]]:
    def get(i: int) -> tuple[str, dict[str, Any]]:
        return "catalog.get", {"product_id": random.choice(ids)}

    def add(i: int) -> tuple[str, dict[str, Any]]:
        return "cart.add", {"product_id": random.choice(ids)}

    def checkout(i: int) -> tuple[str, dict[str, Any]]:
        key = f"{i}-{time.perf_counter_ns()}"
        return "order.checkout", {"idempotency_key": key, "payment": PAYMENT}

    chosen: list[tuple[str, list[Step]]] = []
    if wanted in ("ping", "all"):
        chosen.append(("warung ping", [ping]))
    if wanted in ("catalog", "all"):
        chosen.append(("warung catalog.get", [get]))
    if wanted in ("checkout", "pos", "all"):
        chosen.append(("warung checkouts (2 req)", [add, checkout]))
    return chosen


def cash_sale(ids: list[int]) -> Step:
    def sale(i: int) -> tuple[str, dict[str, Any]]:
        key = f"{i}-{time.perf_counter_ns()}"
        line = {"product_id": random.choice(ids), "qty": 1}
        return "clerk.sale", {"idempotency_key": key, "lines": [line], "payment": CASH}

    return sale


def ping(i: int) -> tuple[str, dict[str, Any]]:
    return "ping", {}


@contextlib.asynccontextmanager
async def connected(port: int, clients: int, sign_in: bool) -> AsyncIterator[list[LeanClient]]:
    group = await connect_all(port, clients, sign_in)
    try:
        yield group
    finally:
        for client in group:
            client.close()


@dataclass
class Target:
    port: int
    pid: int | None  # None: a server this run did not start, whose CPU it does not watch


async def scenarios(args: argparse.Namespace, shop: Target, echo: Target) -> list[Result]:
    async with connected(echo.port, args.clients, sign_in=False) as clients:
        results = [await run("baseline: echo ping", clients, [ping], args.duration, echo.pid)]
    async with connected(shop.port, args.clients, sign_in=True) as clients:
        ids = await bench_ids(clients[0])
        for name, steps in shop_scenarios(args.scenario, ids):
            results.append(await run(name, clients, steps, args.duration, shop.pid))
    if args.scenario in ("pos", "all"):
        clerks = await asyncio.gather(*(clerk_at_till(shop.port, i) for i in range(args.clerks)))
        try:
            name = f"warung cash sales ({args.clerks} clerks)"
            results.append(await run(name, clerks, [cash_sale(ids)], args.duration, shop.pid))
            await close_tills(clerks)
        finally:
            for clerk in clerks:
                clerk.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument(
        "--scenario", choices=("ping", "catalog", "checkout", "pos", "all"), default="all"
    )
    parser.add_argument("--clerks", type=int, default=20, help="clerks ringing up sales (pos)")
    parser.add_argument("--port", type=int, help="a running warung-server with BENCH- products")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.port is None:
            shop, shop_port = bench_shop(Path(tmp), args.clerks)
        else:
            shop, shop_port = None, args.port
        echo, echo_port = start(
            [sys.executable, str(Path(__file__).with_name("echo_server.py"))],
            r"listening on [\d.]+:(\d+)",
        )
        try:
            results = asyncio.run(
                scenarios(
                    args,
                    Target(shop_port, shop.pid if shop is not None else None),
                    Target(echo_port, echo.pid),
                )
            )
        except (BenchError, OSError) as exc:
            sys.exit(f"load: run aborted: {exc}")
        finally:
            if shop is not None:
                shop.terminate()
            echo.terminate()
    print(f"{args.clients} clients, {args.duration:.0f} s each, one request in flight per client")
    if args.scenario in ("pos", "all"):
        print(f"point of sale: {args.clerks} clerks, one cash sale in flight per clerk")
    for result in results:
        print(result.line())


if __name__ == "__main__":
    main()
