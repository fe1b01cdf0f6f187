"""Baseline: a bare Twisted server that answers every frame with a tiny success, nothing else.

It decodes each frame and encodes an answer with the same codec as warung, so the gap
between it and warung-server is what the real work (dispatch, checks, database) costs.
"""

from __future__ import annotations

import sys
from typing import Any

from twisted.internet import protocol
from twisted.internet import reactor as default_reactor

from protocol.envelope import success
from protocol.framing import FrameDecoder, Message, encode


class Echo(protocol.Protocol):
    transport: Any  # a TCP transport once connected

    def connectionMade(self) -> None:
        self.decoder = FrameDecoder()

    def dataReceived(self, data: bytes) -> None:
        out = [
            encode(success(event.body.get("id", 0), {}))
            for event in self.decoder.feed(data)
            if isinstance(event, Message)
        ]
        self.transport.write(b"".join(out))


def main() -> None:
    reactor: Any = default_reactor
    factory = protocol.Factory.forProtocol(Echo)
    port = reactor.listenTCP(int(sys.argv[1]) if len(sys.argv) > 1 else 0, factory)
    print(f"echo listening on 127.0.0.1:{port.getHost().port}", flush=True)
    reactor.run()


if __name__ == "__main__":
    main()
