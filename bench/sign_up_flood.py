"""What a flood of sign-ups does to everyone else's reads: `cart.get` latency and the
server's memory, first alone, then while `--flooders` connections keep `--depth` pipelined
`auth.register` calls each in flight (each a slow password hash).

Starts its own `warung-server serve --demo` on a fresh SQLite file in a temp dir, from
`--source` (a checkout; default this one), with the per-address sign-up limit lifted (so
the flood reaches the hashing) unless `--no-lift` (for a checkout that has no such limit).

    python bench/sign_up_flood.py [--seconds 5] [--flooders 4] [--depth 16] [--source DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from protocol.client import AsyncClient
from protocol.errors import WarungError
from protocol.rules import DEMO_ACCOUNT_RE

LIFT = ["--limit", "registrations_per_address_per_hour=1000000"]
names = itertools.count()


def start_server(source: Path, db: Path, lift: bool) -> tuple[subprocess.Popen[str], int, str]:
    """The server's process, port and the demo customer's password."""
    argv = [sys.executable, "-m", "server.cli", "serve", "--db", f"sqlite:///{db}"]
    argv += ["--port", "0", "--demo", *(LIFT if lift else [])]
    env = {**os.environ, "PYTHONPATH": str(source), "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        argv, cwd=source, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    assert proc.stdout is not None
    password = ""
    for line in proc.stdout:
        if (found := DEMO_ACCOUNT_RE.search(line)) and found.group(1) == "customer":
            password = found.group(2)
        if found := re.search(r"listening on [\d.]+:(\d+)", line):
            return proc, int(found.group(1)), password
    raise RuntimeError("the server did not start")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def reads(client: AsyncClient, seconds: float) -> list[float]:
    """`cart.get` one after another for `seconds`: each one's latency in ms."""
    latencies, deadline = [], time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        began = time.perf_counter()
        await client.call("cart.get")
        latencies.append((time.perf_counter() - began) * 1000)
    return latencies


async def flood(port: int, depth: int, stop: asyncio.Event, outcomes: Counter[str]) -> None:
    async with AsyncClient("127.0.0.1", port, reconnect=False) as client:

        async def one_after_another() -> None:
            while not stop.is_set():
                name = f"flood-{next(names)}"
                try:
                    await client.call("auth.register", username=name, password=name + "-kopi")
                    outcomes["ok"] += 1
                except WarungError as refused:
                    outcomes[refused.code] += 1

        await asyncio.gather(*(one_after_another() for _ in range(depth)))


def summary(label: str, latencies: list[float], mb: float) -> str:
    p50 = statistics.median(latencies)
    p99 = statistics.quantiles(latencies, n=100)[98]
    n = len(latencies)
    return f"{label:>5}: cart.get p50 {p50:8.2f} ms  p99 {p99:8.2f} ms  n={n:6d}  RSS {mb:4.0f} MB"


async def run(args: argparse.Namespace, port: int, password: str, pid: int) -> None:
    async with AsyncClient("127.0.0.1", port) as reader:
        await reader.login("customer", password)
        print(summary("alone", await reads(reader, args.seconds), rss_mb(pid)))
        stop, outcomes = asyncio.Event(), Counter[str]()
        flooders = [
            asyncio.create_task(flood(port, args.depth, stop, outcomes))
            for _ in range(args.flooders)
        ]
        await asyncio.sleep(0.5)  # the flood under way
        during = await reads(reader, args.seconds)
        print(summary("flood", during, rss_mb(pid)))
        stop.set()
        await asyncio.gather(*flooders)
        print(f"sign-ups: {dict(outcomes)} in about {args.seconds + 0.5:.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--flooders", type=int, default=4)
    parser.add_argument("--depth", type=int, default=16)
    parser.add_argument("--source", type=Path, default=Path(__file__).resolve().parents[1])
    parser.add_argument("--no-lift", action="store_true", help="pass no sign-up limit")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as where:
        proc, port, password = start_server(args.source, Path(where) / "shop.db", not args.no_lift)
        try:
            asyncio.run(run(args, port, password, proc.pid))
        finally:
            proc.terminate()
            proc.wait(20)


if __name__ == "__main__":
    main()
