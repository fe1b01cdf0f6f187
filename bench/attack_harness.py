"""What `bench.attacks` measures each attack with: a fresh server on a fresh SQLite demo
shop, a well-behaved customer in a process of its own (a `cart.get` or a `cart.clear`, in
turn, every 10 ms; the latency of each before and during the attack), the server's memory
(its RSS plus its writer process's, from /proc, sampled for the peak), and the raw senders
the attacks share.

Different clients come from different loopback addresses: a socket bound to 127.0.0.2
before it connects to 127.0.0.1 is another address to the server (Linux routes all of
127.0.0.0/8 to the loopback device). The good client always comes from 127.0.0.1.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from multiprocessing.sharedctypes import Synchronized
from pathlib import Path
from typing import Any

from bench.proc_cpu import family, server_cpu_s
from bench.stats import percentile_ms
from protocol.framing import frame
from tests.e2e.harness import ServerProcess, Servers
from tests.e2e.raw import RawConnection

PASSWORD = "attack-password-1"
BEFORE_S = 3.0
GOOD_PACE_S = 0.01
GOOD_TIMEOUT_S = 10.0
SLOW_TIMEOUT_S = 60.0  # for answers queued behind many password hashes
DEPTH = 64  # the server's default max_in_flight
BEFORE, DURING, STOP = 0, 1, 2
PAGE = os.sysconf("SC_PAGE_SIZE")

Counts = dict[str, object]
Request = tuple[str, str, dict[str, Any]]  # label, op, args


def source(index: int) -> str:
    """The loopback address of attacking client `index` (0 is 127.0.0.2)."""
    return f"127.0.0.{index + 2}"


def outcome(answer: dict[str, Any]) -> str:
    return "ok" if answer.get("ok") else str((answer.get("error") or {}).get("code"))


def megabytes(size: float) -> str:
    return f"{size / 1e9:.2f} GB" if size >= 1e9 else f"{size / 1e6:.0f} MB"


@dataclass
class Shop:
    """A fresh server and the customer accounts made on it (their tokens and ids)."""

    server: ServerProcess
    db: Path
    tokens: dict[str, str] = field(default_factory=dict)
    user_ids: dict[str, int] = field(default_factory=dict)

    @property
    def port(self) -> int:
        return self.server.port

    def rss(self) -> int:
        """Bytes resident in the server process and its writer process."""
        assert self.server.proc is not None
        return sum(int(fields[21]) for fields in family(self.server.proc.pid)) * PAGE

    def log_chars(self) -> int:
        return sum(len(line) for line in self.server.log)

    def customer(self, name: str, src: str | None = None) -> RawConnection:
        """A connection signed in as customer `name`, registered on first use."""
        conn = RawConnection(self.port, source=src)
        conn.hello()
        if name in self.tokens:
            assert conn.call("auth.resume", token=self.tokens[name])["ok"]
            return conn
        assert conn.call("auth.register", username=name, password=PASSWORD)["ok"]
        signed_in = conn.call("auth.login", username=name, password=PASSWORD)["result"]
        self.tokens[name], self.user_ids[name] = signed_in["token"], signed_in["user"]["id"]
        return conn

    def product_ids(self, conn: RawConnection, count: int) -> list[int]:
        items = conn.call("catalog.list", limit=count)["result"]["items"]
        return [item["id"] for item in items if item["stock"] > 0]


@contextmanager
def fresh_shop(*extra: str) -> Iterator[Shop]:
    with tempfile.TemporaryDirectory() as tmp, Servers(Path(tmp)) as servers:
        server = servers.start(*extra)
        yield Shop(server, Path(tmp) / "shop0.db")


# -- the well-behaved client, in a process of its own so the attack's threads do not slow it


PROBES = ("cart.get", "cart.clear")  # a read, then a write (of an empty cart), in turn


def good_client(port: int, token: str, phase: Synchronized[int], out: Any) -> None:
    """A `PROBES` call every GOOD_PACE_S, one after the other, until `phase` is STOP; puts
    the latencies and failures of each probe and phase on `out`."""
    latencies: dict[tuple[str, int], list[float]] = {}
    failures: Counter[tuple[str, int]] = Counter()
    conn: RawConnection | None = None
    calls = 0
    while (now := phase.value) != STOP:
        op = PROBES[calls % len(PROBES)]
        calls += 1
        began = time.perf_counter()
        try:
            if conn is None:
                conn = RawConnection(port, timeout=GOOD_TIMEOUT_S)
                conn.hello()
                conn.call("auth.resume", token=token)
            answer = conn.call(op)
            latencies.setdefault((op, now), []).append(time.perf_counter() - began)
            if not answer.get("ok"):
                failures[op, now] += 1
        except (OSError, AssertionError):
            failures[op, now] += 1
            conn = None
        time.sleep(GOOD_PACE_S)
    out.put((latencies, dict(failures)))


def percentile(values: list[float], share: float) -> str:
    return f"{percentile_ms(values, share):.1f} ms" if values else "n/a"


class RssWatch(threading.Thread):
    """Samples the server's RSS every 0.2 s until stopped; keeps the peak."""

    def __init__(self, shop: Shop) -> None:
        super().__init__(daemon=True)
        self.shop, self.peak = shop, 0
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(0.2):
            self.peak = max(self.peak, self.shop.rss())


def measure(
    name: str, attack: Callable[[Shop, float], Counts], seconds: float, *options: str
) -> None:
    """Start a shop (with `serve` `options`), measure the good client before and during
    `attack`, print the lines."""
    with fresh_shop(*options) as shop:
        shop.customer("good").close()
        ctx = multiprocessing.get_context("spawn")
        phase = ctx.Value("i", BEFORE)
        out = ctx.Queue()
        good = ctx.Process(target=good_client, args=(shop.port, shop.tokens["good"], phase, out))
        good.start()
        time.sleep(BEFORE_S)  # the "before" window of the good client
        rss_before, watch = shop.rss(), RssWatch(shop)
        phase.value = DURING
        watch.start()
        cpu_before = cpu_now(shop)
        try:
            counts = attack(shop, seconds)
            cpu = cpu_now(shop)
        finally:
            watch.stopped.set()
            watch.join()
            phase.value = STOP
            latencies, failures = out.get(timeout=60)
            good.join(10)
    print(f"{name:<16} rss {megabytes(rss_before)} -> {megabytes(max(watch.peak, rss_before))}")
    for op in PROBES:
        before, during = latencies.get((op, BEFORE), []), latencies.get((op, DURING), [])
        print(
            f"{name:<16} good-client {op:<10} p50 {percentile(before, 0.5)} -> "
            f"{percentile(during, 0.5)}  p99 {percentile(before, 0.99)} -> "
            f"{percentile(during, 0.99)}  calls {len(before)} -> {len(during)}"
            f"  failed {failures.get((op, BEFORE), 0)} -> {failures.get((op, DURING), 0)}"
        )
    print(f"{name:<16} " + ", ".join(f"{key} {value}" for key, value in counts.items()))
    server_s, attackers_s = (cpu[0] - cpu_before[0], cpu[1] - cpu_before[1])
    print(f"{name:<16} CPU: the server {server_s:.1f} s, the attackers {attackers_s:.1f} s")
    sys.stdout.flush()


def cpu_now(shop: Shop) -> tuple[float, float]:
    """CPU seconds so far of the server and its writer, and of this process (the attack's
    threads; the good client runs in a process of its own)."""
    assert shop.server.proc is not None
    return server_cpu_s(shop.server.proc.pid) or 0.0, time.process_time()


# -- sending


def pipeline(
    conn: RawConnection, request: Callable[[int], Request], seconds: float, depth: int = DEPTH
) -> Counter[tuple[str, str]]:
    """Keeps `depth` requests in flight for `seconds`, then collects the answers still due.
    Counts answers by (label, outcome); pushes are dropped. A `rate_limited` answer pauses
    the sender 50 ms, so a throttled attack does not spin the shared cores."""
    counts: Counter[tuple[str, str]] = Counter()
    labels: dict[int, str] = {}
    deadline, sent = time.monotonic() + seconds, 0
    try:
        while True:
            while len(labels) < depth and time.monotonic() < deadline:
                label, op, args = request(sent)
                labels[conn.request(op, **args)] = label
                sent += 1
            if not labels:
                return counts
            answer = conn.receive(lambda m: "event" not in m)
            conn.inbox[:] = [m for m in conn.inbox if "event" not in m]
            label = labels.pop(answer.get("id", -1), "connection")
            counts[label, outcome(answer)] += 1
            if outcome(answer) == "rate_limited":
                time.sleep(0.05)
    except (OSError, AssertionError):
        counts["connection", "closed"] += 1
        return counts


def in_threads(work: Callable[[int], Any], count: int) -> list[Any]:
    """`work(i)` for i in range(count), each in a thread; their results in order."""
    results: list[Any] = [None] * count

    def run(index: int) -> None:
        results[index] = work(index)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def closed(conn: RawConnection, budget: int = 1 << 20) -> bool:
    """True when the server has closed `conn`: checked without waiting, reading at most
    `budget` bytes of what the server sent before closing."""
    conn.sock.setblocking(False)
    read = 0
    try:
        while read < budget:
            data = conn.sock.recv(65536)
            if not data:
                return True
            read += len(data)
    except BlockingIOError:
        pass
    except OSError:
        return True
    return False


def reply_to(ids: set[int]) -> Callable[[dict[str, Any]], bool]:
    """Matches a reply to one of `ids`, or a refusal before decoding (its id nil)."""
    return lambda message: "event" not in message and message.get("id") in {*ids, None}


def send_raw(conn: RawConnection, body: bytes) -> int:
    """Send an encoded body under the connection's next id; the id."""
    request_id = conn.next_id
    conn.next_id += 1
    conn.send_bytes(frame(body))
    return request_id
