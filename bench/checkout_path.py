"""The reactor's own CPU per checkout, in process and deterministic.

Builds the real server (`server.app.Server`: factory, dispatcher, cart and order services,
event hub, fake payment provider) on the real reactor, never run: its timers only wait in
its heap, as they would live. Its database executor is swapped for one that runs each
write job in the same process the first time (a warm-up round, not timed) and then
replays that job's recorded result, after the msgpack round trip the writer process
gives it. So what is timed is the reactor alone: decoding, checks, Deferreds, `order`
pushes and answers, with no SQL and no syscalls. Customers on StringTransports send
`cart.add` and `order.checkout`, as the load generator does. Beside it, the baseline
measured in the same run: the same customers sending two `ping`s per checkout.

    python bench/checkout_path.py [--customers 100] [--rounds 20] [--repeat 5]
"""

from __future__ import annotations

import argparse
import itertools
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import peewee as pw
from twisted.internet import reactor
from twisted.internet.defer import Deferred, succeed
from twisted.internet.testing import StringTransport

from bench.writer import PASSWORD, customer_name, shop  # the same bench shop
from protocol.codec import packb, unpackb_own
from protocol.framing import FrameDecoder, Message, encode
from protocol.rules import PROTOCOL_VERSION
from server.app import Server
from server.limits import Limits

PAYMENT = {"method": "card", "token": "tok"}
STOCK = 10_000_000
_keys = itertools.count()


def next_key() -> str:
    """A fresh idempotency key: a repeated one would be answered from the stored order."""
    return f"k{next(_keys)}"


class ReplayWrites:
    """Runs each write job once for real, then answers it from the record.

    Keyed by the job and its first argument (the customer for cart and checkout jobs, the
    order for `mark_paid`), so every customer's checkout replays its own order."""

    def __init__(self, db: pw.Database) -> None:
        self.db = db
        self.recorded: dict[tuple[Any, Any], Any] = {}

    def write(self, job: Callable[..., Any], *args: Any) -> Deferred[Any]:
        key = (job, args[0])
        if key not in self.recorded:
            with self.db.atomic():
                self.recorded[key] = packb(job(self.db, *args))
        return succeed(unpackb_own(self.recorded[key]))

    def read(self, work: Callable[[pw.Database], Any]) -> Deferred[Any]:
        return succeed(work(self.db))


class Customer:
    """One signed-in connection of the real server, driven by frames."""

    def __init__(self, server: Server, user: str) -> None:
        self.conn = server.factory.buildProtocol(None)
        self.transport = StringTransport()
        self.conn.makeConnection(self.transport)
        self.decoder = FrameDecoder()
        self.next_id = 0
        self.call("hello", protocol=PROTOCOL_VERSION, client="bench")
        self.call("auth.login", username=user, password=PASSWORD)

    def call(self, op: str, **args: Any) -> dict[str, Any]:
        self.send(op, **args)
        answers = [body for body in self.decode(self.take()) if "id" in body]
        assert answers and answers[-1].get("ok"), f"{op} failed: {answers}"
        return answers[-1]["result"]

    def send(self, op: str, **args: Any) -> None:
        self.next_id += 1
        self.conn.dataReceived(encode({"id": self.next_id, "op": op, "args": args}))

    def take(self) -> bytes:
        """What the server wrote since last time, as a socket would have carried it."""
        data = self.transport.value()
        self.transport.clear()
        return data

    def decode(self, data: bytes) -> list[dict[str, Any]]:
        return [event.body for event in self.decoder.feed(data) if isinstance(event, Message)]


def in_process_server(db: pw.Database) -> Server:
    limits = Limits(rate_per_s=10**9, burst=10**9, max_connections_per_address=10**6)
    server = Server(db, "sqlite://", reactor, limits, 0.0)
    writes = ReplayWrites(db)
    server.dbx.write = writes.write  # type: ignore[method-assign]  # every service's
    server.dbx.read = writes.read  # type: ignore[method-assign]
    server.hashing.run = _hash_here  # type: ignore[method-assign]  # sign-ins answer at once
    return server


def _hash_here(work: Callable[..., Any], *args: Any) -> Deferred[Any]:
    """The hashing pool's work done on this thread: no reactor runs here to deliver it."""
    return succeed(work(*args))


def checkouts(customers: list[Customer], products: list[int]) -> list[bytes]:
    """One checkout per customer; what each was sent, to check after the timing."""
    sent = []
    for i, customer in enumerate(customers):
        customer.send("cart.add", product_id=products[i], qty=1)
        customer.send("order.checkout", idempotency_key=next_key(), payment=PAYMENT)
        sent.append(customer.take())
    return sent


def ping_pairs(customers: list[Customer], products: list[int]) -> list[bytes]:
    sent = []
    for customer in customers:
        customer.send("ping")
        customer.send("ping")
        sent.append(customer.take())
    return sent


def check_checkouts(customers: list[Customer], sent: list[bytes]) -> None:
    for customer, data in zip(customers, sent, strict=True):
        bodies = customer.decode(data)
        assert [body.get("ok") for body in bodies if "id" in body] == [True, True], bodies
        pushed = [body["data"]["status"] for body in bodies if body.get("event") == "order"]
        assert pushed == ["pending", "paid"], bodies


def best_cpu_us(
    runs: dict[str, Callable[[], None]], checkouts: int, repeat: int
) -> dict[str, float]:
    """The least CPU µs per checkout of each run, run in turn `repeat` times."""
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(repeat):  # interleaved, so all see the same machine
        for name, run in runs.items():
            began = time.process_time()
            run()
            best[name] = min(best[name], (time.process_time() - began) / checkouts * 1e6)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=5, help="best of this many runs")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db, _, products = shop(Path(tmp), args.customers)
        names = [customer_name(i) for i in range(args.customers)]
        server = in_process_server(db)
        customers = [Customer(server, name) for name in names]
        check_checkouts(customers, checkouts(customers, products))  # warm-up: records
        sent: list[list[bytes]] = []

        def run(step: Callable[[list[Customer], list[int]], list[bytes]]) -> Callable[[], None]:
            return lambda: sent.extend(step(customers, products) for _ in range(args.rounds))

        best = best_cpu_us(
            {"baseline": run(ping_pairs), "checkout": run(checkouts)},
            args.rounds * len(names),
            args.repeat,
        )
        db.close()
    for data in sent:
        bodies = customers[0].decode(b"".join(data))
        assert all(body.get("ok") for body in bodies if "id" in body), "a request failed"
    print(f"{args.customers} customers x {args.rounds} rounds, best of {args.repeat}:")
    print(f"baseline: two pings       {best['baseline']:6.1f} µs CPU")
    print(f"cart.add + order.checkout {best['checkout']:6.1f} µs CPU")


if __name__ == "__main__":
    main()
