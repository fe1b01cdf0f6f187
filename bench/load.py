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

The generator shares the machine's cores with the server it measures, so each client is
kept lean: a bare asyncio Protocol on the sans-IO framing, whose measured loop runs from
`data_received` (check the answer, write the next request) with no future, task or SDK.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import gc
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from protocol.framing import FrameDecoder, Message, encode
from protocol.rules import DEFAULT_MAX_FRAME, PROTOCOL_VERSION

BENCH_PRODUCTS = 500
BENCH_STOCK = 10_000_000
HOST = "127.0.0.1"
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

Answer = dict[str, Any]
Step = Callable[[int], tuple[str, dict[str, Any]]]  # client index -> (op, args)


class BenchError(Exception):
    """An answer or event the run cannot go on with: it stops and says why."""


@dataclass
class Result:
    name: str
    count: int = 0
    errors: int = 0
    requests: int = 0
    seconds: float = 0.0
    cpu: float = 0.0
    server_cpu: float | None = None
    latencies: list[float] = field(default_factory=list)

    def line(self) -> str:
        lat = sorted(self.latencies) or [0.0]
        p50 = lat[len(lat) // 2] * 1000
        p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000
        rate = self.count / self.seconds if self.seconds else 0
        per_request = 1e6 / self.requests if self.requests else 0
        server = "" if self.server_cpu is None else f", server {self.server_cpu * per_request:5.1f}"
        return (
            f"{self.name:<28} {rate:>10,.0f}/s   p50 {p50:6.2f} ms   p99 {p99:7.2f} ms"
            f"   ({self.count} ok, {self.errors} errors)"
            f"   µs CPU/req: generator {self.cpu * per_request:5.1f}{server}"
        )


class LeanClient(asyncio.Protocol):
    """One connection, one request in flight, on the project's sans-IO framing only.

    Each answer is checked (`_check`), then handed to `on_answer(ok, body)`; pushes (no
    `id`) are skipped. A failure goes to the future the caller awaits (`expect`).
    """

    def __init__(self) -> None:
        self.decoder = FrameDecoder(DEFAULT_MAX_FRAME)
        self.transport: asyncio.Transport | None = None
        self.request_id = 0
        self.op = ""
        self.on_answer: Callable[[bool, Answer], None] = self._unexpected
        self.waiter: asyncio.Future[Any] | None = None
        self.error: BenchError | None = None
        self.closing = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closing:
            self.fail(BenchError(f"the server closed the connection ({exc or 'no error'})"))

    def data_received(self, data: bytes) -> None:
        try:
            for event in self.decoder.feed(data):
                if not isinstance(event, Message):
                    raise BenchError(f"bad frame from the server: {event}")
                body = event.body
                if "id" in body:  # no id: a push, e.g. the `order` event of a checkout
                    self.on_answer(self._check(body), body)
        except BenchError as exc:
            self.fail(exc)

    def _check(self, body: Answer) -> bool:
        """True for a success, False for `out_of_stock`; anything else raises BenchError."""
        if body["id"] != self.request_id:
            raise BenchError(
                f"{self.op}: answer has id {body['id']!r}, sent {self.request_id}"
                f" ({body.get('error') or 'ok'})"
            )
        if body.get("ok") is True:
            return True
        error = body.get("error") or {}
        if error.get("code") == "out_of_stock":
            return False
        raise BenchError(f"{self.op} failed: {error.get('code')}: {error.get('message')}")

    def _unexpected(self, ok: bool, body: Answer) -> None:
        raise BenchError(f"answer with no request waiting for it: {body}")

    def send(self, op: str, args: dict[str, Any]) -> None:
        assert self.transport is not None
        self.request_id += 1
        self.op = op
        self.transport.write(encode({"id": self.request_id, "op": op, "args": args}))

    def expect(self) -> asyncio.Future[Any]:
        """A fresh future for the next outcome; fails at once if the connection has."""
        self.waiter = asyncio.get_running_loop().create_future()
        if self.error is not None:
            self.waiter.set_exception(self.error)
        return self.waiter

    def fail(self, exc: BenchError) -> None:
        self.error = self.error or exc
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(exc)
        if self.transport is not None:
            self.transport.close()

    async def call(self, op: str, **args: Any) -> Answer:
        """Send one request and wait for its result: for setup, not for the measured loop."""
        waiter = self.expect()

        def settle(ok: bool, body: Answer) -> None:
            if ok:
                waiter.set_result(body["result"])
            else:
                waiter.set_exception(BenchError(f"{op} failed: {body['error']}"))

        self.on_answer = settle
        self.send(op, args)
        return await waiter

    def close(self) -> None:
        self.closing = True
        if self.waiter is not None and not self.waiter.done():
            self.waiter.cancel()
        if self.transport is not None:
            self.transport.close()


class ClosedLoop:
    """Runs one client through a scenario's steps until the deadline, from its callbacks.

    An iteration is every step in turn; its latency runs from the first request sent to the
    last answer. `out_of_stock` counts as an error and starts the next iteration.
    """

    __slots__ = ("began", "client", "deadline", "done", "index", "result", "step", "steps")

    def __init__(
        self, client: LeanClient, index: int, steps: list[Step], result: Result, deadline: float
    ) -> None:
        self.client, self.index, self.steps = client, index, steps
        self.result, self.deadline = result, deadline
        self.step, self.began = 0, 0.0
        self.done: asyncio.Future[None] | None = None

    def start(self) -> asyncio.Future[None]:
        self.done = self.client.expect()
        self.client.on_answer = self.answer
        self.begin()
        return self.done

    def begin(self) -> None:
        now = time.perf_counter()
        if now >= self.deadline:
            self.finish()
            return
        self.step, self.began = 0, now
        self.client.send(*self.steps[0](self.index))

    def finish(self) -> None:
        if self.done is not None and not self.done.done():
            self.done.set_result(None)

    def answer(self, ok: bool, body: Answer) -> None:
        result = self.result
        result.requests += 1
        if not ok:
            result.errors += 1
        elif self.step + 1 < len(self.steps):
            self.step += 1
            self.client.send(*self.steps[self.step](self.index))
            return
        else:
            result.latencies.append(time.perf_counter() - self.began)
            result.count += 1
        self.begin()


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


def family(pid: int) -> list[list[str]]:
    """The /proc stat fields (after the command name) of process `pid` and of its live
    children (a SQLite server's writer process)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        if stat.parent.name == str(pid) or fields[1] == str(pid):
            found.append(fields)
    return found


def server_cpu_s(pid: int | None) -> float | None:
    """CPU seconds used so far by process `pid` and its live children, from /proc; None
    when the server is not ours to watch."""
    if pid is None or not Path("/proc/self/stat").exists():
        return None
    ticks = sum(int(fields[11]) + int(fields[12]) for fields in family(pid))  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def no_gc_pauses() -> Iterator[None]:
    """No cyclic garbage collection in this process, the clients', meanwhile (as `timeit`
    times): a full collection over thousands of clients took 30-110 ms here, and an answer
    or push waiting for it would be timed as the server's."""
    gc.collect()
    gc.freeze()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.unfreeze()


async def run(
    name: str, clients: list[LeanClient], steps: list[Step], duration: float, server: int | None
) -> Result:
    """Every client in a closed loop for `duration` seconds; also the CPU time used by the
    generator and by the server (process id `server`) meanwhile."""
    result = Result(name)
    with no_gc_pauses():  # its collection first, before the clocks start
        server_began = server_cpu_s(server)
        cpu, began = time.process_time(), time.perf_counter()
        deadline = began + duration
        loops = [ClosedLoop(c, i, steps, result, deadline) for i, c in enumerate(clients)]
        await asyncio.gather(*(loop.start() for loop in loops))
    result.seconds = time.perf_counter() - began
    result.cpu = time.process_time() - cpu
    server_ended = server_cpu_s(server)
    if server_began is not None and server_ended is not None:
        result.server_cpu = server_ended - server_began
    return result


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
