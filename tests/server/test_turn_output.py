"""Output once per turn, straight into the socket: a real TCP pair on loopback, and a Clock."""

from __future__ import annotations

import socket

from twisted.internet import tcp
from twisted.internet.interfaces import IProtocol, IReactorFDSet, ISSLTransport
from twisted.internet.protocol import Protocol
from twisted.internet.task import Clock
from twisted.internet.testing import MemoryReactor, StringTransport
from zope.interface import directlyProvides  # type: ignore[import-untyped]  # no type information

from protocol.framing import FrameDecoder, Message, encode
from server.turn_output import HOLD_LIMIT, TurnFlusher, backlog_reader
from tests.server.test_connection import make


class PairTransport(StringTransport):
    """A transport whose handle is one end of a real socket pair; the test reads the other."""

    def __init__(self, sock: socket.socket) -> None:
        super().__init__()
        self.sock = sock

    def getHandle(self) -> socket.socket:
        return self.sock


def received(sock: socket.socket) -> bytes:
    chunks: list[bytes] = []
    while True:
        try:
            chunk = sock.recv(1 << 20)
        except BlockingIOError:
            return b"".join(chunks)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def test_a_turns_writes_wait_for_its_end_then_leave_in_order_past_the_transport(pair):
    ours, theirs = pair
    clock, transport = Clock(), PairTransport(ours)
    output = TurnFlusher(clock).output(transport)
    output.write(b"first ")
    output.write(b"second")
    assert received(theirs) == b""  # still this turn
    clock.advance(0)
    assert received(theirs) == b"first second"
    assert transport.value() == b""


def test_what_the_socket_does_not_take_and_all_after_it_go_through_the_transport(pair):
    ours, theirs = pair
    ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    clock, transport = Clock(), PairTransport(ours)
    output = TurnFlusher(clock).output(transport)
    big = bytes(range(256)) * 8192  # 2 MiB: more than the socket pair holds
    output.write(big)
    clock.advance(0)
    output.write(b"after")  # must not overtake the bytes the transport holds
    clock.advance(0)
    direct = received(theirs)
    assert 0 < len(direct) < len(big)
    assert direct + transport.value() == big + b"after"


def test_a_burst_to_a_client_that_stopped_reading_is_not_held_past_the_limit(pair):
    ours, theirs = pair
    ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    clock, transport = Clock(), PairTransport(ours)
    output = TurnFlusher(clock).output(transport)
    frames = [bytes([n % 256]) * 1000 for n in range(3000)]  # 3 MB in one turn
    for frame in frames:
        output.write(frame)
        assert output.held_bytes <= HOLD_LIMIT  # sent on, not piled up in the output
    # the socket filled, so the rest went to the transport: its buffer (and the producer
    # pause past it) takes over within the turn
    assert transport.value()
    clock.advance(0)
    assert received(theirs) + transport.value() == b"".join(frames)


def test_tls_connections_always_write_through_the_transport(pair):
    ours, theirs = pair
    clock, transport = Clock(), PairTransport(ours)
    directlyProvides(transport, ISSLTransport)
    output = TurnFlusher(clock).output(transport)
    output.write(b"secret")
    assert transport.value() == b"secret"
    clock.advance(0)
    assert received(theirs) == b""


def test_a_stopped_output_drops_what_it_held_and_sends_nothing_more(pair):
    ours, theirs = pair
    clock, transport = Clock(), PairTransport(ours)
    output = TurnFlusher(clock).output(transport)
    output.write(b"lost")
    output.stop()
    clock.advance(0)
    output.write(b"late")
    assert received(theirs) == b""
    assert transport.value() == b"late"  # a gone transport ignores it


def test_bytes_written_after_a_close_wait_in_the_transport_which_sends_them_first(pair):
    ours, theirs = pair
    clock, transport = Clock(), PairTransport(ours)
    output = TurnFlusher(clock).output(transport)
    output.write(b"answer")
    output.detach()  # the connection is about to be told to close
    assert received(theirs) == b"answer"
    output.write(b"late answer")
    assert transport.value() == b"late answer"  # not held past the transport's close
    clock.advance(0)
    assert received(theirs) == b""


class FailingTransport(PairTransport):
    def write(self, data: bytes) -> None:
        raise RuntimeError("this transport is broken")


def test_one_connection_failing_to_send_holds_back_no_other(pair):
    ours, theirs = pair
    broken_socket = socket.socket()
    broken_socket.close()  # send() fails, so the output falls back to its transport
    clock = Clock()
    turns = TurnFlusher(clock)
    broken = turns.output(FailingTransport(broken_socket))
    good = turns.output(PairTransport(ours))
    broken.write(b"lost")
    good.write(b"first")
    clock.advance(0)
    assert received(theirs) == b"first"
    good.write(b" second")  # the good one is flushed in later turns too
    clock.advance(0)
    assert received(theirs) == b" second"


def test_a_refused_hello_is_sent_before_the_connection_closes(pair):
    ours, theirs = pair
    conn, *_ = make()
    fresh = conn.factory.buildProtocol(None)
    transport = PairTransport(ours)
    fresh.makeConnection(transport)
    fresh.dataReceived(encode({"id": 1, "op": "ping", "args": {}}))
    assert transport.disconnecting  # closed in the same turn as the error was written
    [event] = FrameDecoder().feed(received(theirs))
    assert isinstance(event, Message)
    assert event.body["error"]["code"] == "bad_request"


def test_the_backlog_of_a_twisted_tcp_transport_is_what_the_kernel_has_not_taken(pair):
    ours, theirs = pair
    transport = tcp.Connection(ours, IProtocol(Protocol()), reactor=IReactorFDSet(MemoryReactor()))
    transport.connected = True
    backlog = backlog_reader(transport)
    data = b"x" * (8 << 20)  # more than the kernel buffers of both ends take
    transport.write(data[: 1 << 20])
    transport.write(data[1 << 20 :])
    assert backlog() == len(data)
    transport.doWrite()  # as the reactor would when the socket is writable
    assert 0 < backlog() < len(data)
    got = 0
    for _ in range(1000):
        got += len(received(theirs))
        transport.doWrite()
        if not backlog():
            break
    got += len(received(theirs))
    assert backlog() == 0 and got == len(data)
