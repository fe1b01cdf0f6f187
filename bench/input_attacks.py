"""The malformed-input attacks of `bench.attacks`: a megabyte name, forged and edge
cursors and NUL strings, frames of empty maps and a map that repeats a key. Each answer must
be a precise error, within the server's limits."""

from __future__ import annotations

import base64
import hashlib
import time
from collections import Counter

from bench.attack_harness import (
    SLOW_TIMEOUT_S,
    Counts,
    Request,
    Shop,
    outcome,
    percentile,
    pipeline,
    reply_to,
    send_raw,
    source,
)
from protocol.codec import packb
from protocol.rules import DEFAULT_MAX_FRAME
from tests.e2e.raw import RawConnection


def huge_name(shop: Shop, seconds: float) -> Counts:
    """Item 5: an unknown argument name of a megabyte, as str and as bin; the answer's size."""
    conn = RawConnection(shop.port, SLOW_TIMEOUT_S, source(0))
    conn.hello()
    names: dict[str, str | bytes] = {"str": "x" * 1_000_000, "bin": b"\x00" * 1_000_000}
    biggest = {"str": 0, "bin": 0}
    received = sent = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for kind, key in names.items():
            body = packb({"id": conn.next_id, "op": "ping", "args": {key: 1}})
            try:
                answer = conn.answer(send_raw(conn, body))
            except (OSError, AssertionError):
                return {"answer": "connection closed", **biggest}
            size = len(packb(answer))
            biggest[kind] = max(biggest[kind], size)
            sent, received = sent + len(body), received + size
    conn.close()
    return {
        "request bytes": len(body),
        "answer bytes (str name)": biggest["str"],
        "answer bytes (bin name)": biggest["bin"],
        "bytes out per byte in": round(received / sent, 1),
    }


def forge_cursor(scope: str, *position: str | int) -> str:
    """A cursor as main's server makes them (PROTOCOL.md section 11.10 calls them opaque):
    its digest is an unkeyed hash, so anyone who reads the source can make one."""
    digest = hashlib.sha256(packb([scope, *position])).hexdigest()[:12]
    return base64.urlsafe_b64encode(packb([1, digest, *position])).decode().rstrip("=")


def forged_requests(user_id: int) -> list[Request]:
    """Forged and edge cursors, and NUL strings."""
    orders = f"order.list|{user_id}|None"
    products = "None|[]"
    return [
        ("order cursor 20 digits", "order.list", {"cursor": forge_cursor(orders, 10**19 + 1)}),
        ("order cursor 2^63", "order.list", {"cursor": forge_cursor(orders, 2**63)}),
        ("order cursor ²", "order.list", {"cursor": "²" * 12}),
        ("product cursor ²", "catalog.list", {"cursor": forge_cursor(products, "²", 1)}),
        (
            "product cursor 20 digits",
            "catalog.list",
            {"cursor": forge_cursor(products, "a", 10**19 + 1)},
        ),
        ("product cursor NUL", "catalog.list", {"cursor": forge_cursor(products, "\x00", 1)}),
        ("search NUL", "catalog.list", {"query": "\x00", "limit": 1}),
        ("sku NUL", "catalog.get", {"sku": "\x00"}),
    ]


def edge_input(shop: Shop, seconds: float) -> Counts:
    """Item 8: forged and edge cursors and NUL strings, pipelined; `internal` answers."""
    conn = shop.customer("prober", source(0))
    everything = len(conn.call("catalog.list", limit=200)["result"]["items"])
    answer = conn.call("catalog.list", query="\x00", limit=200)
    nul = "refused" if "error" in answer else f"{len(answer['result']['items'])} products"
    probes = forged_requests(shop.user_ids["prober"])
    log_before = shop.log_chars()
    counts = pipeline(conn, lambda n: probes[n % len(probes)], seconds, depth=16)
    conn.close()
    internal = {label: n for (label, code), n in counts.items() if code == "internal"}
    return {
        "answers": sum(counts.values()),
        "internal": sum(internal.values()),
        "internal by probe": internal,
        "server log KB/s": round((shop.log_chars() - log_before) / seconds / 1000),
        "a NUL search matched": f"{nul} (of {everything} on the first page)",
    }


def repeated_key_body(request_id: int) -> bytes:
    """`catalog.get` with `product_id` twice in its args: msgpack allows it, dicts do not."""
    args = b"\x82" + packb("product_id") + packb(1) + packb("product_id") + packb(2)
    return (
        b"\x83"
        + packb("id")
        + packb(request_id)
        + packb("op")
        + packb("catalog.get")
        + (packb("args") + args)
    )


def empty_maps(shop: Shop, seconds: float) -> Counts:
    """Item 12: 1 MiB frames holding a list of empty maps, four in flight; and a map that
    repeats a key."""
    conn = shop.customer("mapper", source(0))
    send_raw(conn, repeated_key_body(conn.next_id))
    repeated = outcome(conn.receive(lambda m: "event" not in m))  # a bad body's answer: id nil
    start = packb({"id": 0, "op": "ping", "args": {}, "pad": []})
    count = DEFAULT_MAX_FRAME - len(start) - 4 - 8  # 8: room for longer ids
    pad = b"\xdd" + count.to_bytes(4, "big") + b"\x80" * count  # array 32 of {}

    def body(request_id: int) -> bytes:
        envelope = packb({"id": request_id, "op": "ping", "args": {}})
        return b"\x84" + envelope[1:] + packb("pad") + pad

    timings: list[float] = []
    deadline = time.monotonic() + seconds
    answers: Counter[str] = Counter()
    while time.monotonic() < deadline:
        began = time.perf_counter()
        replies = reply_to({send_raw(conn, body(conn.next_id)) for _ in range(4)})
        try:
            answers.update(outcome(conn.receive(replies)) for _ in range(4))
        except (OSError, AssertionError):
            answers["connection closed"] += 1
            break
        timings.append((time.perf_counter() - began) / 4)
    conn.close()
    return {
        "frames": sum(answers.values()),
        "answers": dict(answers),
        "time per frame, 4 in flight (p50)": percentile(timings, 0.5),
        "repeated map key": "accepted" if repeated in ("ok", "not_found") else repeated,
    }
