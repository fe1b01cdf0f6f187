"""Reactor time one frame costs in FrameDecoder, for bodies of up to 1 MiB built to be slow.

Decoding costs per value, not per byte: a body of a million empty maps is a million dicts
to build and compare. The server counts a body's values first and refuses one of more than
`limits.max_values` undecoded (issue 14, item 12). Prints the best of a few runs per body,
with the server's bound and without it:

    python bench/decode_cost.py
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from protocol.codec import packb
from protocol.framing import FrameDecoder, frame
from server.limits import Limits

MIB = 1 << 20
ENVELOPE = (
    b"\x83\xa2id\x02\xa2op\xa4ping\xa4args\x81\xa1x"  # {"id": 2, "op": "ping", "args": {"x": ...}}
)
NOT_SHORTEST = b"\xd0\x01"  # 1 as an int8: the codec must re-decode to look for repeated keys


def array_of(items: bytes, count: int) -> bytes:
    return ENVELOPE + b"\xdd" + count.to_bytes(4, "big") + items


def bodies() -> Iterator[tuple[str, bytes]]:
    n = MIB - 64
    yield "1 MiB of empty maps", array_of(b"\x80" * n, n)
    yield "1 MiB of empty maps, one int not shortest", array_of(b"\x80" * (n - 1) + NOT_SHORTEST, n)
    yield "1 MiB of nils", array_of(b"\xc0" * n, n)
    k = Limits().max_values - 12
    yield f"{k} empty maps, one int not shortest", array_of(b"\x80" * (k - 1) + NOT_SHORTEST, k)
    yield "one 1 MiB string", packb({"id": 2, "op": "ping", "args": {"x": "a" * n}})
    ids = list(range(10**6, 10**6 + 1000))
    yield (
        "stock.subscribe of 1000 ids",
        packb({"id": 2, "op": "stock.subscribe", "args": {"product_ids": ids}}),
    )
    yield "ping", packb({"id": 2, "op": "ping"})


def best_ms(data: bytes, max_values: int | None) -> tuple[float, str]:
    runs = 1000 if len(data) < 100_000 else 5
    best, kind = float("inf"), ""
    for _ in range(runs):
        decoder = FrameDecoder(MIB, max_values)
        began = time.perf_counter()
        kind = type(decoder.feed(data)[0]).__name__
        best = min(best, time.perf_counter() - began)
    return best * 1000, kind


def main() -> None:
    bound = Limits().max_values
    print(f"{'body':45s} {'bytes':>8s}  {'unbounded':>16s}  {f'max_values={bound}':>24s}")
    for name, body in bodies():
        data = frame(body)
        before, _ = best_ms(data, None)
        after, kind = best_ms(data, bound)
        print(f"{name:45s} {len(body):8d}  {before:13.3f} ms  {after:9.3f} ms {kind:>14s}")


if __name__ == "__main__":
    main()
