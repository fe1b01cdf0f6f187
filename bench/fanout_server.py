"""Floor: a bare Twisted fan-out server. A frame `{"op": "subscribe", "args":
{"product_id": p}}` adds its connection to p's watchers; a frame `{"op": "sell", "args":
{"product_id": p}}` is answered, then one `stock` event of warung's shape and size is
encoded once and written to every watcher of p. Nothing else: the gap between
it and warung's fan-out is what warung's own path (the write, the hub, the per-connection
`seq`) costs.

    python bench/fanout_server.py [port]
"""

from __future__ import annotations

import sys
from typing import Any

from twisted.internet import protocol
from twisted.internet import reactor as default_reactor

from protocol.envelope import success
from protocol.framing import FrameDecoder, Message, encode


class FanOut(protocol.Protocol):
    transport: Any  # a TCP transport once connected

    def __init__(self, watchers: dict[int, set[FanOut]]) -> None:
        self.watchers = watchers
        self.decoder = FrameDecoder()

    def dataReceived(self, data: bytes) -> None:
        for event in self.decoder.feed(data):
            if not isinstance(event, Message):
                continue
            body = event.body
            self.transport.write(encode(success(body.get("id", 0), {})))
            product = body.get("args", {}).get("product_id", 0)
            if body.get("op") == "subscribe":
                self.watchers.setdefault(product, set()).add(self)
            elif body.get("op") == "sell":
                self.sell(product)

    def sell(self, product: int) -> None:
        data = {"product_id": product, "stock": 9_999_999, "version": 2}
        frame = encode({"event": "stock", "seq": 1, "data": data})
        for watcher in self.watchers.get(product, ()):
            watcher.transport.write(frame)

    def connectionLost(self, reason: object = None) -> None:
        for watchers in self.watchers.values():
            watchers.discard(self)


class FanOutFactory(protocol.Factory):
    def __init__(self) -> None:
        self.watchers: dict[int, set[FanOut]] = {}

    def buildProtocol(self, addr: object) -> FanOut:
        return FanOut(self.watchers)


def main() -> None:
    reactor: Any = default_reactor
    port = reactor.listenTCP(int(sys.argv[1]) if len(sys.argv) > 1 else 0, FanOutFactory())
    print(f"fan-out listening on 127.0.0.1:{port.getHost().port}", flush=True)
    reactor.run()


if __name__ == "__main__":
    main()
