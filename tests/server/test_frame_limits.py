"""Unfinished frames and open connections are bounded (issue 14, item 4).

A frame must be finished in time once its first byte is in; only whole frames count as
activity; large unfinished frames share one server-wide budget; one address may hold only
so many connections open.
"""

from typing import Any

from twisted.internet.address import IPv4Address
from twisted.internet.error import ConnectionDone
from twisted.python.failure import Failure

from protocol.framing import HEADER, encode
from server.limits import Limits
from tests.server.test_connection import Transport, make, read, say_hello


def security_events(conn) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    conn.factory.security.listeners.append(events.append)
    return events


def test_a_frame_trickled_a_byte_a_second_is_reset_at_its_deadline():
    conn, transport, clock, _ = make(Limits(frame_deadline_s=10))
    events = security_events(conn)
    say_hello(conn, transport)
    conn.dataReceived(HEADER.pack(100))
    for _ in range(9):
        clock.advance(1)
        conn.dataReceived(b"x")  # never a whole frame
    clock.advance(0.9)
    assert not transport.disconnecting
    clock.advance(0.2)
    assert transport.disconnecting and transport.value() == b""  # reset, no message
    assert [(e["event"], e["reason"]) for e in events] == [("conn.closed", "frame_deadline")]


def test_a_large_frame_has_longer_by_its_size():
    limits = Limits(frame_deadline_s=10, frame_min_bytes_per_s=16_384)
    conn, transport, clock, _ = make(limits)
    say_hello(conn, transport)
    conn.dataReceived(HEADER.pack(1 << 20) + b"\x80")  # 1 MiB at 16 KiB/s: 64 s
    clock.advance(63.9)
    assert not transport.disconnecting
    clock.advance(0.2)
    assert transport.disconnecting


def test_a_frame_finished_in_time_clears_its_deadline():
    conn, transport, clock, _ = make(Limits(frame_deadline_s=10, heartbeat_s=30))
    say_hello(conn, transport)
    ping = encode({"id": 2, "op": "ping"})
    conn.dataReceived(ping[:3])
    clock.advance(9)
    conn.dataReceived(ping[3:] + ping[:2])  # finishes it, and begins the next one
    clock.advance(9)
    conn.dataReceived(ping[2:])
    clock.advance(30)
    assert not transport.disconnecting
    assert [answer["id"] for answer in read(transport)] == [2, 2]


def test_stray_bytes_do_not_count_as_activity():
    conn, transport, clock, _ = make(Limits(heartbeat_s=2, frame_deadline_s=60))
    say_hello(conn, transport)
    clock.advance(5)
    conn.dataReceived(HEADER.pack(50) + b"x")  # bytes, but no whole frame
    clock.advance(1.1)  # 6 s after the last whole frame: 3 x heartbeat_s
    assert transport.disconnecting


def test_past_the_server_wide_budget_the_newest_large_frame_is_refused():
    limits = Limits(max_partial_frame_bytes=200_000)
    first, first_transport, _, _ = make(limits)
    factory = first.factory
    events = security_events(first)
    say_hello(first, first_transport)
    first.dataReceived(HEADER.pack(150_000) + b"\x80")  # reserves 150,000

    second, second_transport = connect(factory, "10.0.0.2")
    say_hello(second, second_transport)
    second.dataReceived(HEADER.pack(100_000) + b"\x80")
    [refused] = read(second_transport)
    assert refused["id"] is None and refused["error"]["code"] == "unavailable"
    assert refused["error"]["details"] == {"reason": "partial_frames", "retry_after_ms": 1000}
    assert second_transport.write_closed  # as for too_large: FIN, then a reset after 2 s
    assert [(e["event"], e["reason"]) for e in events] == [("conn.closed", "partial_frames")]

    third, third_transport = connect(factory, "10.0.0.3")
    say_hello(third, third_transport)
    third.dataReceived(HEADER.pack(1000) + b"\x80")  # small frames reserve nothing
    assert third_transport.value() == b"" and not third_transport.write_closed

    first.connectionLost(Failure(ConnectionDone()))  # gives its reservation back
    fourth, fourth_transport = connect(factory, "10.0.0.4")
    say_hello(fourth, fourth_transport)
    fourth.dataReceived(HEADER.pack(100_000) + b"\x80")
    assert fourth_transport.value() == b"" and not fourth_transport.write_closed
    assert factory.partial_frames.reserved == 100_000


def test_one_address_holds_at_most_its_share_of_the_budget():
    limits = Limits(max_partial_frame_bytes=1_000_000, max_partial_frame_bytes_per_address=250_000)
    factory = make(limits)[0].factory
    held = []
    for _ in range(3):  # 3 x 100,000 from one address: the third is past its share
        conn, transport = connect(factory, "10.0.0.9")
        say_hello(conn, transport)
        conn.dataReceived(HEADER.pack(100_000) + b"\x80")
        held.append((conn, transport))
    assert [t.value() == b"" for _, t in held] == [True, True, False]
    [refused] = read(held[2][1])
    assert refused["error"]["details"] == {"reason": "partial_frames", "retry_after_ms": 1000}

    other, other_transport = connect(factory, "10.0.0.10")  # another address: room left
    say_hello(other, other_transport)
    other.dataReceived(HEADER.pack(100_000) + b"\x80")
    assert other_transport.value() == b""
    assert factory.partial_frames.by_address == {"10.0.0.9": 200_000, "10.0.0.10": 100_000}

    held[0][0].connectionLost(Failure(ConnectionDone()))  # gives its share back
    assert factory.partial_frames.by_address["10.0.0.9"] == 100_000


def connect(factory, host: str):
    conn = factory.buildProtocol(IPv4Address("TCP", host, 40000))
    transport = Transport()
    conn.makeConnection(transport)
    return conn, transport


def test_one_address_may_hold_only_so_many_connections_open():
    first, _, _, _ = make(Limits(max_connections_per_address=3))
    factory = first.factory
    events = security_events(first)
    opened = [connect(factory, "10.0.0.9") for _ in range(3)]
    assert all(transport.value() == b"" for _, transport in opened)

    refused, refused_transport = connect(factory, "10.0.0.9")
    [answer] = read(refused_transport)
    assert answer["id"] is None and answer["error"]["code"] == "rate_limited"
    assert answer["error"]["details"] == {
        "reason": "address_connections",
        "limit": 3,
        "retry_after_ms": 1000,
    }
    assert refused_transport.disconnecting
    assert [(e["event"], e["address"], e["reason"]) for e in events] == [
        ("conn.refused", "10.0.0.9", "address_connections")
    ]

    _, elsewhere = connect(factory, "10.0.0.10")  # other addresses are not held back
    assert elsewhere.value() == b""
    refused.connectionLost(Failure(ConnectionDone()))  # a refused one frees no place
    _, still_refused = connect(factory, "10.0.0.9")
    assert read(still_refused)[0]["error"]["code"] == "rate_limited"
    opened[0][0].connectionLost(Failure(ConnectionDone()))
    _, admitted = connect(factory, "10.0.0.9")
    assert admitted.value() == b"" and not admitted.disconnecting
