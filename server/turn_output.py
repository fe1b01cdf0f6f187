"""Answers and pushes leave once per reactor turn, straight into the socket.

Twisted's `transport.write` keeps the bytes, registers the socket for writability (an
`epoll_ctl`), sends them in the next turn and unregisters it (another `epoll_ctl`): two
extra syscalls and a wakeup for every burst of answers, about a tenth of the server's CPU
in a checkout run. Here a connection's writes of one turn are joined and sent with one
`send()` right after the turn, so the client still gets one segment per turn.

Whatever the kernel does not take goes to the transport, and from then on everything does:
the order of bytes holds, and Twisted's buffer and its pause of the producer take over for a
client that reads slowly. A turn that writes more than `HOLD_LIMIT` bytes to a connection
sends them at once instead of holding more, so a burst of pushes to a client that has
stopped reading reaches that pause (and the stock conflation behind it) within the turn, as
it would through Twisted's buffer. A TLS connection, or a transport with no socket, always
writes through the transport.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

from twisted.internet.interfaces import ISSLTransport
from twisted.logger import Logger

from server.clock import Clock

log = Logger()
HOLD_LIMIT = 65536  # Twisted's own buffer size, past which it pauses its producer


class TurnOutput:
    """One connection's output: held until the end of the turn, then sent."""

    def __init__(
        self, transport: Any, turns: TurnFlusher, drained: Callable[[], None] | None = None
    ) -> None:
        """`drained` is called after a flush the socket took whole: nothing written waits."""
        self.transport = transport
        self.turns = turns
        self.drained = drained
        self.socket = _plain_socket(transport)
        self.backlog = backlog_reader(transport)
        self.held: list[bytes] = []
        self.held_bytes = 0
        self.queued = False
        self.written = 0  # bytes written here in all, for the access log

    def write(self, data: bytes) -> None:
        self.written += len(data)
        if self.socket is None:
            self.transport.write(data)
            return
        if not self.queued:
            self.queued = True
            self.turns.hold(self)
        self.held.append(data)
        self.held_bytes += len(data)
        if self.held_bytes > HOLD_LIMIT:
            self.flush()

    def flush(self) -> None:
        """Send what is held: as much as the socket takes, the rest through the transport."""
        self.queued = False
        held, self.held, self.held_bytes = self.held, [], 0
        if not held:
            return
        data = b"".join(held)
        if self.socket is not None:
            try:
                sent = self.socket.send(data)
            except BlockingIOError:
                sent = 0
            except OSError:  # closed or reset meanwhile: the transport reports it
                sent = 0
            if sent == len(data):
                if self.drained is not None:
                    self.drained()
                return
            data = data[sent:]
            self.socket = None  # the transport holds bytes now: all later ones must follow
        self.transport.write(data)

    def unsent(self) -> int:
        """Bytes written here and not yet taken by the kernel: held for this turn, or in the
        transport's buffer."""
        return self.held_bytes + self.backlog()

    def detach(self) -> None:
        """Before the transport is told to close: send what is held, and let every later
        byte go through the transport, which sends all it holds before it closes."""
        self.flush()
        self.socket = None

    def stop(self) -> None:
        """The connection is gone: drop what is held, send nothing more."""
        self.held, self.held_bytes = [], 0
        self.socket = None


class TurnFlusher:
    """Flushes every output written to in a turn, once, right after the turn."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._held: list[TurnOutput] = []

    def output(self, transport: Any, drained: Callable[[], None] | None = None) -> TurnOutput:
        return TurnOutput(transport, self, drained)

    def hold(self, output: TurnOutput) -> None:
        if not self._held:
            self.clock.callLater(0, self.flush)
        self._held.append(output)

    def flush(self) -> None:
        held, self._held = self._held, []
        for output in held:
            try:
                output.flush()
            except Exception:  # one connection's failure must not hold back the others
                log.failure("cannot send to {transport}", transport=output.transport)


def _plain_socket(transport: Any) -> socket.socket | None:
    handle = getattr(transport, "getHandle", None)
    if handle is None or ISSLTransport.providedBy(transport):
        return None
    sock = handle()
    return sock if isinstance(sock, socket.socket) else None


def backlog_reader(transport: Any) -> Callable[[], int]:
    """A call that tells how many bytes written to `transport` it has not handed to the
    kernel yet (chosen once per connection: it runs for every write).

    Twisted has no public call for this. A TLS transport keeps cleartext in `_appSendBuffer`
    (during its handshake) and writes the rest to the TCP transport under it (it is asked
    first: it passes unknown attributes on to that transport). A TCP transport (a
    `FileDescriptor`) keeps them in `dataBuffer` from `offset` on, and in `_tempDataBuffer`,
    counted by `_tempDataLen`. A StringTransport (tests) holds all that was written to it, as
    a client that never reads would: its `value()`.
    """
    if hasattr(transport, "_appSendBuffer"):
        below = backlog_reader(transport.transport)
        return lambda: sum(map(len, transport._appSendBuffer)) + below()
    if hasattr(transport, "_tempDataLen"):
        return lambda: len(transport.dataBuffer) - transport.offset + transport._tempDataLen
    value = getattr(transport, "value", None)
    if callable(value):
        return lambda: len(value())
    return lambda: 0
