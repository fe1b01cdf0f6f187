"""The attacks of issue 14, each against a fresh server, with a well-behaved client measured.

Each attack runs from threads of this process over raw sockets for a bounded time, from
loopback addresses of its own, against a fresh server; `bench/attack_harness.py` starts
it and measures the good client's latency and the server's memory before and during.
The malformed-input attacks are `bench/input_attacks.py`'s.
Each attack prints one line per metric, before -> during, then its own counts:

    python -m bench.attacks                   # every attack, about 3 minutes
    python -m bench.attacks slowloris wal     # some of them; --seconds sets each attack's length

Run it from the repository root: it reuses the end-to-end harness of tests/e2e.
"""

from __future__ import annotations

import argparse
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from contextlib import suppress

from bench.attack_harness import (
    DEPTH,
    PASSWORD,
    SLOW_TIMEOUT_S,
    Counts,
    Request,
    Shop,
    closed,
    in_threads,
    measure,
    megabytes,
    outcome,
    pipeline,
    source,
)
from bench.input_attacks import edge_input, empty_maps, huge_name
from protocol.rules import DEFAULT_MAX_FRAME
from tests.e2e.raw import RawConnection, header

DECLINE = {"method": "card", "token": "decline"}  # the fake provider declines this token


# -- the attacks


def guess_waves(
    port: int, src: str, seconds: float, wave: int = DEPTH, right_at: int = 0
) -> Counter[str]:
    """Waves of `wave` pipelined wrong passwords for `victim` from `src`; the guess numbered
    `right_at` (from 1) carries the right password. Counts the answers, and the passwords
    checked in the first wave."""
    conn = RawConnection(port, SLOW_TIMEOUT_S, src)
    conn.hello()
    counts: Counter[str] = Counter()
    deadline, guess = time.monotonic() + seconds, 0
    try:
        while time.monotonic() < deadline:
            ids = []
            for _ in range(wave):
                guess += 1
                password = PASSWORD if guess == right_at else f"wrong-{guess}"
                ids.append(conn.request("auth.login", username="victim", password=password))
            answers = [outcome(conn.answer(i)) for i in ids]
            if guess == wave:
                counts["first wave checked"] = wave - answers.count("rate_limited")
            counts.update(answers)
            if answers.count("rate_limited") == wave:
                time.sleep(0.5)
    except OSError:
        counts["connection closed"] += 1
    conn.close()
    return counts


def guess_report(counts: Counter[str], seconds: float) -> Counts:
    """`seconds`: how long the waves took, the last one answered in full."""
    checked = counts["unauthenticated"] + counts["ok"]
    return {
        "passwords checked": checked,
        "in the first wave": counts["first wave checked"],
        "in seconds": round(seconds, 1),
        "per minute": round(checked * 60 / seconds),
        "rate_limited": counts["rate_limited"],
        "right password as guess 64 of the first wave": (
            "signed in" if counts["ok"] else "not signed in"
        ),
    }


def guess_one(shop: Shop, seconds: float) -> Counts:
    """Item 1: one account, one address."""
    shop.customer("victim").close()
    began = time.monotonic()
    counts = guess_waves(shop.port, source(0), seconds, right_at=DEPTH)  # 64 a wave
    return guess_report(counts, time.monotonic() - began)


def guess_ten(shop: Shop, seconds: float) -> Counts:
    """Item 1: one account, ten addresses, each sending waves of 20: the per-address
    allowance (PROTOCOL.md section 7), so what passes shows the lack of a per-account
    limit rather than the pipelining of `guess_one`."""
    shop.customer("victim").close()
    counts: Counter[str] = Counter()
    began = time.monotonic()
    for found in in_threads(lambda i: guess_waves(shop.port, source(i), seconds, 20), 10):
        counts.update(found)
    report = guess_report(counts, time.monotonic() - began)
    del report["right password as guess 64 of the first wave"]
    return report


def register_flood(shop: Shop, seconds: float) -> Counts:
    """Item 2: `auth.register` pipelined from four addresses."""

    def flood(index: int) -> Counter[tuple[str, str]]:
        conn = RawConnection(shop.port, SLOW_TIMEOUT_S, source(index))
        conn.hello()

        def register(n: int) -> Request:
            name = f"flood{index}x{n}"
            return "auth.register", "auth.register", {"username": name, "password": PASSWORD}

        return pipeline(conn, register, seconds, depth=16)

    counts: Counter[tuple[str, str]] = Counter()
    began = time.monotonic()
    for found in in_threads(flood, 4):
        counts.update(found)
    elapsed = time.monotonic() - began
    created = counts["auth.register", "ok"]
    refused = {code: n for (_, code), n in counts.items() if code != "ok"}
    return {
        "accounts created": created,
        "in seconds": round(elapsed, 1),
        "per second": round(created / elapsed),
        **refused,
    }


def silent_readers(shop: Shop, seconds: float, readers: int = 300) -> Counts:
    """Item 3: connections signed in to one customer that never read, while a driver on
    the same account checks a 100-line cart out with a card the provider declines: each
    checkout pushes an `order` event (pending, then cancelled) to every connection of the
    account (a customer needs no `order.subscribe` for its own orders)."""
    driver = shop.customer("shopper")
    for product_id in shop.product_ids(driver, 100):
        driver.call("cart.add", product_id=product_id)
    silent = []
    for index in range(readers):
        conn = RawConnection(shop.port, source=source(index % 10))
        conn.hello()
        assert conn.call("auth.resume", token=shop.tokens["shopper"])["ok"]
        conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        silent.append(conn)

    def checkout(n: int) -> Request:
        key = f"silent-{n}"
        return "checkout", "order.checkout", {"idempotency_key": key, "payment": DECLINE}

    counts = pipeline(driver, checkout, seconds, depth=8)
    still_open = sum(not closed(conn) for conn in silent)
    for conn in [*silent, driver]:
        conn.close()
    declined = counts["checkout", "payment_declined"]
    return {
        "silent connections": readers,
        "declined checkouts (2 order events each)": declined,
        "order events for the silent": 2 * declined * readers,
        "still open at the end": still_open,
    }


def hoarders(shop: Shop, seconds: float, addresses: int = 8, per_address: int = 64) -> Counts:
    """Connections that ask for large answers and never read them: 40 `catalog.list` pages
    of 200 products each, about 1.3 MB, within the 2 MiB one connection may queue; 680 MB
    from all 512 (the kernel's buffers take up to 0.5 MB of each), past the 256 MiB the
    server may queue to all together. Held `seconds`: their answers take the server 20 s."""
    shop.customer("hoarder").close()

    def hoard(index: int) -> RawConnection:
        conn = RawConnection(shop.port, source=source(index % addresses), receive_buffer=4096)
        conn.hello()
        assert conn.call("auth.resume", token=shop.tokens["hoarder"])["ok"]
        for _ in range(40):
            conn.request("catalog.list", limit=200)
        return conn

    conns = in_threads(hoard, addresses * per_address)
    time.sleep(seconds)  # the attack is to hold them
    found = shop.server.metrics()
    for conn in conns:
        conn.close()
    return {
        "connections": len(conns),
        "reset to keep the server's budget": found.get("warung_connections_shed_total", "n/a"),
        "queued at the end": megabytes(found.get("warung_queued_bytes", 0)),
    }


def cart_flood(shop: Shop, seconds: float, addresses: int = 8, per_address: int = 32) -> Counts:
    """Connections that each keep 64 cart changes in flight (the most one may): writes
    pipelined as fast as the server answers them, from 256 connections."""
    first = shop.customer("flooder")
    product_id = shop.product_ids(first, 10)[0]  # one in stock
    first.close()

    def flood(index: int) -> Counter[tuple[str, str]]:
        conn = RawConnection(shop.port, source=source(index % addresses), timeout=SLOW_TIMEOUT_S)
        conn.hello()
        assert conn.call("auth.resume", token=shop.tokens["flooder"])["ok"]

        def change(n: int) -> Request:
            return "cart.set", "cart.set", {"product_id": product_id, "qty": 1 + n % 2}

        counts = pipeline(conn, change, seconds)
        conn.close()
        return counts

    counts: Counter[tuple[str, str]] = sum(in_threads(flood, addresses * per_address), Counter())
    return {
        "connections": addresses * per_address,
        "cart changes": counts["cart.set", "ok"],
        "refused": sum(n for (_, what), n in counts.items() if what != "ok"),
    }


def slowloris(shop: Shop, seconds: float, per_address: int = 100, addresses: int = 10) -> Counts:
    """Item 4: frames announcing 1 MiB, sent but for their last 1,000 bytes, then dribbled
    a byte a second per connection."""
    body = b"\x81" + b"\x00" * (DEFAULT_MAX_FRAME - 1)
    partial = header(DEFAULT_MAX_FRAME) + body[:-1000]
    deadline = time.monotonic() + seconds

    def hold(index: int) -> tuple[int, int]:
        conns, refused = [], 0
        for _ in range(per_address):
            try:
                conn = RawConnection(shop.port, source=source(index))
                conn.hello()
                conn.send_bytes(partial)
                conns.append(conn)
            except (OSError, AssertionError):
                refused += 1
        sent = len(partial)
        while time.monotonic() < deadline and sent < len(header(0)) + len(body) - 1:
            time.sleep(1.0)
            for conn in conns:
                with suppress(OSError):
                    conn.send_bytes(b"\x00")
            sent += 1
        open_now = sum(not closed(conn) for conn in conns)
        for conn in conns:
            conn.close()
        return open_now, refused

    results = in_threads(hold, addresses)
    return {
        "connections": per_address * addresses,
        "partial frames held at the end": sum(r[0] for r in results),
        "refused or closed while sending": sum(r[1] for r in results),
    }


def connection_flood(shop: Shop, seconds: float, addresses: int = 20) -> Counts:
    """Item 4: connections opened (each says hello) as fast as the server lets from 20
    addresses until it refuses for `max_connections`; then a newcomer tries to connect."""
    deadline = time.monotonic() + seconds
    full = threading.Event()

    def flood(index: int) -> tuple[list[RawConnection], Counter[str]]:
        held: list[RawConnection] = []
        refusals: Counter[str] = Counter()
        while time.monotonic() < deadline and not full.is_set():
            try:
                conn = RawConnection(shop.port, 5.0, source(index))
                conn.request("hello", protocol=1, client="flood")
                first = conn.receive(lambda m: True)
            except OSError:
                refusals["closed or failed"] += 1
                time.sleep(0.1)
                continue
            if first.get("ok"):
                held.append(conn)
                continue
            conn.close()
            reason = str(first["error"]["details"].get("reason"))
            refusals[reason] += 1
            if reason == "max_connections":
                full.set()
            time.sleep(min(first["error"]["details"].get("retry_after_ms", 100), 200) / 1000)
        return held, refusals

    began = time.monotonic()
    results = in_threads(flood, addresses)
    filled_s = time.monotonic() - began
    newcomer = newcomer_gets_in(shop.port)
    held = [len(found[0]) for found in results]
    refusals: Counter[str] = Counter()
    for found in results:
        refusals.update(found[1])
        for conn in found[0]:
            conn.close()
    return {
        "connections held": sum(held),
        "most from one address": max(held),
        "in seconds": round(filled_s, 1),
        "refusals": dict(refusals),
        "a new client from 127.0.0.1": newcomer,
    }


def newcomer_gets_in(port: int) -> str:
    try:
        conn = RawConnection(port)
        conn.request("hello", protocol=1, client="newcomer")
        first = conn.receive(lambda m: True)
        conn.close()
    except OSError as exc:
        return f"failed ({exc})"
    if first.get("ok"):
        return "connected"
    return f"refused ({first['error']['code']} {first['error']['details'].get('reason')})"


def wal_growth(shop: Shop, seconds: float) -> Counts:
    """Item 9: declined checkouts from one customer; the WAL file's size."""
    conn = shop.customer("decliner", source(0))
    conn.call("cart.add", product_id=shop.product_ids(conn, 1)[0])
    wal = shop.db.with_name(shop.db.name + "-wal")
    sizes: list[int] = []
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.5):
            sizes.append(wal.stat().st_size if wal.exists() else 0)

    sampler = threading.Thread(target=sample, daemon=True)
    before = wal.stat().st_size if wal.exists() else 0
    sampler.start()

    def checkout(n: int) -> Request:
        key = f"wal-{n}"
        return "checkout", "order.checkout", {"idempotency_key": key, "payment": DECLINE}

    counts = pipeline(conn, checkout, seconds, depth=8)
    time.sleep(2.0)  # a quiet moment after: does the WAL shrink?
    stop.set()
    sampler.join()
    conn.close()
    return {
        "declined checkouts": counts["checkout", "payment_declined"],
        "WAL before": megabytes(before),
        "WAL peak": megabytes(max(sizes, default=0)),
        "WAL 2 s after": megabytes(sizes[-1] if sizes else 0),
    }


ATTACKS: dict[str, Callable[[Shop, float], Counts]] = {
    "guess-one": guess_one,
    "guess-ten": guess_ten,
    "register-flood": register_flood,
    "silent-readers": silent_readers,
    "hoarders": hoarders,
    "cart-flood": cart_flood,
    "slowloris": slowloris,
    "conn-flood": connection_flood,
    "huge-name": huge_name,
    "edge-input": edge_input,
    "wal": wal_growth,
    "empty-maps": empty_maps,
}


# An attack on another path than a limit's own runs with that limit out of its way: the
# silent readers need a steady stream of order events, which declined checkouts make.
OPTIONS: dict[str, tuple[str, ...]] = {
    "silent-readers": ("--limit", "declines_per_account_per_hour=1000000"),
    "hoarders": ("--metrics-port", "0"),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("attacks", nargs="*", metavar="ATTACK", help=", ".join(ATTACKS))
    parser.add_argument("--seconds", type=float, default=8.0, help="length of each attack")
    args = parser.parse_args()
    if unknown := set(args.attacks) - set(ATTACKS):
        parser.error(f"no such attack: {', '.join(sorted(unknown))}")
    for name in args.attacks or ATTACKS:
        measure(name, ATTACKS[name], args.seconds, *OPTIONS.get(name, ()))


if __name__ == "__main__":
    main()
