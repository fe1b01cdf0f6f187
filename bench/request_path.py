"""CPU per request on the server's own request path, in process and deterministic.

Builds the real connection stack (WarungFactory, Dispatcher, WarungConnection with the
`hello` and `ping` handlers, which need no database) on a StringTransport and a Clock,
feeds it pre-encoded `ping` frames a chunk at a time as a socket would deliver them, and
prints the CPU time (time.process_time) per request. Beside it, the baseline measured in
the same run: decoding the same frames with FrameDecoder and encoding a reply with the
same codec, with no server logic.

    python bench/request_path.py [--requests 50000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport

from protocol.envelope import success
from protocol.framing import FrameDecoder, Message, encode
from protocol.ops import Op
from server.dispatch import Dispatcher
from server.events import EventHub, next_turn
from server.factory import WarungFactory
from server.limits import Limits
from server.metrics import Metrics
from server.services.session import SessionService

SHOP = {"name": "bench", "currency": "IDR", "currency_exponent": 2}
HELLO = encode({"id": 1, "op": "hello", "args": {"protocol": 1, "client": "bench"}})


def ping_chunks(requests: int, per_chunk: int) -> list[bytes]:
    """`requests` ping frames, joined `per_chunk` to a dataReceived."""
    frames = [encode({"id": i + 2, "op": "ping", "args": {}}) for i in range(requests)]
    return [b"".join(frames[i : i + per_chunk]) for i in range(0, requests, per_chunk)]


def server_feed() -> Callable[[bytes], None]:
    """A greeted connection of the real server; returns its dataReceived."""
    limits = Limits(rate_per_s=10**9, burst=10**9)  # measure the path, not the refusals
    session = SessionService(limits, SHOP)
    dispatcher = Dispatcher({Op.HELLO: session.hello, Op.PING: session.ping})
    clock = Clock()
    factory = WarungFactory(dispatcher, EventHub(next_turn(clock)), limits, clock, Metrics())
    conn = factory.buildProtocol(None)
    transport = StringTransport()
    conn.makeConnection(transport)
    conn.dataReceived(HELLO)
    assert b"protocol" in transport.value(), "hello was not answered"

    def feed(chunk: bytes) -> None:
        conn.dataReceived(chunk)
        transport.clear()  # a socket would have sent it; keep memory flat

    return feed


def baseline_feed() -> Callable[[bytes], None]:
    """Decode the frames and encode a reply with the same codec: no server logic."""
    decoder = FrameDecoder()
    out = StringTransport()

    def feed(chunk: bytes) -> None:
        replies = [
            encode(success(event.body["id"], {"time": 0}))
            for event in decoder.feed(chunk)
            if isinstance(event, Message)
        ]
        out.write(b"".join(replies))
        out.clear()

    return feed


def cpu_us_per_request(make: Callable[[], Callable[[bytes], None]], chunks, requests) -> float:
    feed = make()
    began = time.process_time()
    for chunk in chunks:
        feed(chunk)
    return (time.process_time() - began) / requests * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=5, help="best of this many runs")
    args = parser.parse_args()
    print(f"{args.requests} ping requests, best of {args.repeat}, CPU µs per request")
    for per_chunk in (1, 16):
        chunks = ping_chunks(args.requests, per_chunk)
        best = {"baseline": float("inf"), "server": float("inf")}
        for _ in range(args.repeat):  # interleaved, so both see the same machine
            for name, make in (("baseline", baseline_feed), ("server", server_feed)):
                best[name] = min(best[name], cpu_us_per_request(make, chunks, args.requests))
        extra = best["server"] - best["baseline"]
        print(
            f"{per_chunk:>2} frame(s) per read:  server {best['server']:6.2f}"
            f"   baseline {best['baseline']:6.2f}   server logic {extra:6.2f}"
        )


if __name__ == "__main__":
    main()
