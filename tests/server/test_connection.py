"""The connection layer alone, deterministic: StringTransport for the socket, Clock for time."""

import socket
from typing import Any

import pytest
from twisted.internet.defer import Deferred
from twisted.internet.protocol import Protocol
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport

from protocol.errors import Conflict
from protocol.framing import encode, frame
from protocol.ops import Op
from server.dispatch import Call, Dispatcher, Identity
from server.events import EventHub, StockChange, next_turn
from server.factory import WarungFactory
from server.limits import Limits
from server.metrics import Metrics, PushCounts
from server.services.session import SessionService
from tests.server.frames import bodies

SHOP = {"name": "test", "currency": "IDR", "currency_exponent": 2}


class Transport(StringTransport):
    protocol: Protocol  # as on Twisted's TCP transport, which `server.proxy_gate` swaps
    write_closed = False

    def loseWriteConnection(self) -> None:
        self.write_closed = True


def make(limits: Limits | None = None, /, **handlers: Any):
    limits = limits or Limits()
    clock = Clock()
    hub = EventHub(next_turn(clock))
    session = SessionService(limits, SHOP)
    table = {Op.HELLO: session.hello, Op.PING: session.ping, **handlers}
    factory = WarungFactory(Dispatcher(table), hub, limits, clock, Metrics())
    conn = factory.buildProtocol(None)
    transport = Transport()
    conn.makeConnection(transport)
    return conn, transport, clock, hub


def read(transport: StringTransport) -> list[dict[str, Any]]:
    found = bodies(transport.value())
    transport.clear()
    return found


def say_hello(conn, transport) -> None:
    conn.dataReceived(encode({"id": 1, "op": "hello", "args": {"protocol": 1, "client": "t"}}))
    assert read(transport)[0]["ok"]


def test_an_op_this_build_does_not_offer_is_unavailable_and_the_connection_goes_on():
    """Every op of the registry has a handler in `warung-server` (tests/e2e/test_audit.py);
    a server built with fewer answers the others `unavailable`, naming the op."""
    conn, transport, _, _ = make()
    say_hello(conn, transport)
    login = {"username": "ana", "password": "a password"}  # an op that needs no sign-in
    conn.dataReceived(encode({"id": 2, "op": "auth.login", "args": login}))
    conn.dataReceived(encode({"id": 3, "op": "ping"}))
    refused, pong = read(transport)
    assert refused["error"]["code"] == "unavailable"
    assert refused["error"]["details"] == {"op": "auth.login"}
    assert pong["id"] == 3 and pong["ok"]


def test_trickled_bytes_do_not_extend_the_hello_deadline():
    conn, transport, clock, _ = make()
    hello = encode({"id": 1, "op": "hello", "args": {"protocol": 1, "client": "t"}})
    for byte in range(len(hello) - 1):
        conn.dataReceived(hello[byte : byte + 1])
        clock.advance(0.5)
        if transport.disconnecting:
            break
    assert transport.disconnecting
    assert clock.seconds() <= Limits().hello_timeout_s + 0.5


def test_a_silent_connection_is_closed_after_three_heartbeats():
    conn, transport, clock, _ = make(Limits(heartbeat_s=2))
    say_hello(conn, transport)
    clock.advance(5.9)
    assert not transport.disconnecting
    conn.dataReceived(encode({"id": 2, "op": "ping"}))  # activity restarts the clock
    clock.advance(5.9)
    assert not transport.disconnecting
    clock.advance(0.2)
    assert transport.disconnecting


def test_a_paused_subscriber_gets_only_the_newest_value_per_product():
    conn, transport, clock, hub = make()
    say_hello(conn, transport)
    hub.subscribe(conn, [1, 2])
    conn.pauseProducing()
    assert transport.producerState == "paused"  # reading stops too
    hub.publish_stock([StockChange(1, 9, 2), StockChange(2, 5, 2)])
    clock.advance(0)
    hub.publish_stock([StockChange(1, 8, 3)])
    clock.advance(0)
    hub.publish_stock([StockChange(1, 7, 4)])
    clock.advance(0)
    assert transport.value() == b""
    assert len(conn.pending_stock) == 2
    conn.resumeProducing()
    pushes = read(transport)
    assert [(p["seq"], p["data"]["product_id"], p["data"]["stock"]) for p in pushes] == [
        (1, 2, 5),
        (2, 1, 7),
    ]
    assert transport.producerState == "producing"
    assert conn.factory.metrics.pushes == PushCounts(sent=2, conflated=2, dropped=0)


def test_a_subscriber_paused_too_long_is_closed():
    conn, transport, clock, _ = make(Limits(paused_close_s=5))
    say_hello(conn, transport)
    conn.pauseProducing()
    clock.advance(4.9)
    assert not transport.disconnecting
    clock.advance(0.2)
    assert transport.disconnecting


def test_older_versions_are_never_pushed_after_newer_ones():
    conn, transport, clock, hub = make()
    say_hello(conn, transport)
    hub.subscribe(conn, None)
    hub.publish_stock([StockChange(3, 4, 10)])
    clock.advance(0)
    hub.publish_stock([StockChange(3, 5, 9)])
    clock.advance(0)
    assert [p["data"]["version"] for p in read(transport)] == [10]


def test_requests_beyond_the_in_flight_limit_are_refused_not_queued():
    never: Deferred[dict[str, Any]] = Deferred()

    def slow(call: Call) -> Deferred[dict[str, Any]]:
        return never

    conn, transport, _, _ = make(Limits(max_in_flight=2), **{Op.CATALOG_CATEGORIES: slow})
    say_hello(conn, transport)
    signed_in(conn)
    for i in (2, 3, 4):
        conn.dataReceived(encode({"id": i, "op": "catalog.categories"}))
    [refused] = read(transport)
    assert refused["id"] == 4
    assert refused["error"]["details"] == {"limit": 2, "reason": "in_flight"}


def test_an_oversized_frame_half_closes_then_aborts_after_a_grace():
    conn, transport, clock, _ = make(Limits(max_frame=1000))
    say_hello(conn, transport)
    conn.dataReceived(b"\x00\x00\x03\xe9")
    [error] = read(transport)
    assert error["id"] is None and error["error"]["code"] == "too_large"
    assert transport.write_closed and not transport.disconnecting
    conn.dataReceived(b"x" * 5000)  # the rest of the body is dropped, not answered
    assert transport.value() == b""
    clock.advance(2.1)
    assert transport.disconnecting


def test_a_half_close_lets_go_of_the_producer_so_the_close_is_not_held():
    """Twisted closes a transport once its buffer drains, unless a paused streaming producer
    is registered: that it resumes instead, and the FIN never goes (a client that shut its
    sending side while its replies waited hung until the silence timeout)."""
    conn, transport, _, _ = make()
    say_hello(conn, transport)
    assert transport.producer is conn
    conn.pauseProducing()  # the client's socket buffer is full
    conn.readConnectionLost()
    assert transport.disconnecting and transport.producer is None
    conn.close()  # closing again is harmless


def test_requests_in_flight_at_a_half_close_are_answered_then_the_connection_closes():
    """PROTOCOL.md 6.5: a client that sends its requests and shuts its sending side gets
    every answer, the late ones too, then the FIN."""
    later: Deferred[dict[str, Any]] = Deferred()
    conn, transport, _, _ = make(**{Op.CATALOG_CATEGORIES: lambda call: later})
    say_hello(conn, transport)
    signed_in(conn)
    conn.dataReceived(encode({"id": 2, "op": "catalog.categories"}))
    conn.dataReceived(encode({"id": 3, "op": "ping"}))
    conn.readConnectionLost()
    assert [answer["id"] for answer in read(transport)] == [3]
    assert not transport.disconnecting  # one request is still being worked on
    later.callback({"categories": ["tea"]})
    [answer] = read(transport)
    assert answer["id"] == 2 and answer["result"] == {"categories": ["tea"]}
    assert transport.disconnecting and transport.producer is None


@pytest.mark.parametrize("size", [4096, 10_000])
def test_a_push_larger_than_the_client_accepts_is_skipped_as_a_seq_gap(size):
    conn, transport, _, _ = make()
    conn.dataReceived(
        encode({"id": 1, "op": "hello", "args": {"protocol": 1, "client": "t", "max_frame": 4096}})
    )
    read(transport)
    conn.send_event("order", {"blob": "x" * (size - 100)})
    conn.send_event("order", {"small": 1})
    pushes = read(transport)
    expected = [2] if size > 4096 else [1, 2]
    assert [p["seq"] for p in pushes] == expected
    assert conn.factory.metrics.pushes.dropped == 2 - len(expected)


class SocketTransport(Transport):
    """A transport whose handle is a real (unconnected) TCP socket, to read options back."""

    def __init__(self) -> None:
        super().__init__()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)

    def getHandle(self) -> socket.socket:
        return self.sock


def test_each_connection_turns_nagle_off_and_fixes_its_send_buffer():
    transport = SocketTransport()
    default = transport.sock.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF)
    wanted = max(65536, 2 * default)  # unlike what the socket would have had anyway
    conn, _, _, _ = make(Limits(send_buffer_bytes=wanted))
    fresh = conn.factory.buildProtocol(None)
    fresh.makeConnection(transport)
    try:
        assert transport.sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
        # Linux reports twice the value asked for (its bookkeeping overhead); others report it.
        assert transport.sock.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF) in (
            wanted,
            2 * wanted,
        )
    finally:
        transport.sock.close()


def signed_in(conn) -> None:
    conn.identity = Identity(1, "ani", "customer", 1)


def answered(conn, outcome: str) -> float | None:
    return conn.factory.metrics.registry.get_sample_value(
        "warung_requests_total", {"op": "catalog.categories", "outcome": outcome}
    )


UNENCODABLE = {"now": object()}  # msgpack cannot pack it


@pytest.mark.parametrize("deferred", [False, True], ids=["direct", "deferred"])
def test_a_result_the_codec_cannot_encode_is_answered_as_internal(logged, deferred):
    answers = iter([UNENCODABLE, {"categories": []}])

    def handler(call: Call) -> Any:
        result = next(answers)
        if not deferred:
            return result
        later: Deferred[dict[str, Any]] = Deferred()
        clock.callLater(1, later.callback, result)
        return later

    conn, transport, clock, _ = make(**{Op.CATALOG_CATEGORIES: handler})
    say_hello(conn, transport)
    signed_in(conn)
    for request_id in (2, 3):
        conn.dataReceived(encode({"id": request_id, "op": "catalog.categories"}))
    clock.advance(1)
    failed, fine = sorted(read(transport), key=lambda answer: answer["id"])
    reference = failed["error"]["details"]["reference"]
    assert failed["id"] == 2 and failed["error"] == {
        "code": "internal",
        "message": f"internal error (reference {reference})",
        "details": {"reference": reference},
    }
    assert fine == {"id": 3, "ok": True, "result": {"categories": []}}  # the packer recovered
    [event] = [e for e in logged if e.get("reference") == reference]
    assert event["log_failure"].check(TypeError)
    assert conn.in_flight == 0
    assert answered(conn, "internal") == 1 and answered(conn, "ok") == 1


@pytest.mark.parametrize("deferred", [False, True], ids=["direct", "deferred"])
def test_an_error_whose_details_the_codec_cannot_encode_is_answered_as_internal(logged, deferred):
    error = Conflict("clash", {"with": object()})

    def handler(call: Call) -> Any:
        if not deferred:
            raise error
        later: Deferred[dict[str, Any]] = Deferred()
        clock.callLater(1, later.errback, error)
        return later

    conn, transport, clock, _ = make(**{Op.CATALOG_CATEGORIES: handler})
    say_hello(conn, transport)
    signed_in(conn)
    op = Op.CATALOG_CATEGORIES
    conn.dataReceived(encode({"id": 2, "op": op}))
    clock.advance(1)
    [answer] = read(transport)
    assert answer["id"] == 2 and answer["error"]["code"] == "internal"
    reference = answer["error"]["details"]["reference"]
    assert [e for e in logged if e.get("reference") == reference]
    [failed] = [e for e in logged if e.get("event") == "request.failed"]  # the answer sent only
    assert (failed["request_id"], failed["op"], failed["code"]) == (2, op, "internal")
    assert not transport.disconnecting
    assert conn.in_flight == 0 and answered(conn, "internal") == 1


def test_a_request_that_repeats_a_key_is_a_bad_body_and_the_connection_goes_on():
    conn, transport, _, _ = make()
    say_hello(conn, transport)
    repeated = b"\x83\xa2id\x02\xa2op\xa4ping\xa2op\xa5hello"  # {"id": 2, "op": "ping", "op": ...}
    conn.dataReceived(frame(repeated) + encode({"id": 3, "op": "ping"}))
    refused, pong = read(transport)
    assert refused["id"] is None and refused["error"]["code"] == "bad_request"
    assert refused["error"]["details"] == {"reason": "msgpack"}
    assert pong["id"] == 3 and pong["ok"] and not transport.disconnecting


def test_an_address_that_goes_on_past_its_refusal_budget_is_closed_and_one_that_paces_is_not():
    limits = Limits(rate_per_s=1, burst=1, refusals_per_s=10, refusal_burst=5)
    conn, transport, clock, _ = make(limits)
    say_hello(conn, transport)
    conn.dataReceived(encode({"id": 2, "op": "ping"}) + frame(b"") * 5)  # 1 ping, 5 refused
    answers = read(transport)
    assert [a["ok"] for a in answers] == [True] + [False] * 5 and not transport.write_closed
    clock.advance(0.1)  # one refusal more, earned back
    conn.dataReceived(frame(b""))
    assert read(transport)[0]["error"]["code"] == "bad_request" and not transport.write_closed

    conn.dataReceived(frame(b"") + encode({"id": 3, "op": "ping"}) + frame(b"") * 3)
    [closing] = read(transport)
    assert closing["id"] is None and closing["error"]["code"] == "rate_limited"
    assert closing["error"]["details"] == {"reason": "refusals", "limit": 5}
    assert transport.write_closed, "half-closed, as after too_large, then aborted"
    undecoded = encode({"id": 3, "op": "ping"}) + frame(b"") * 3
    assert conn.decoder.buffered == len(undecoded), "what came after is never decoded"

    again, again_transport = conn.factory.buildProtocol(None), Transport()  # the same address
    again.makeConnection(again_transport)
    say_hello(again, again_transport)
    again.dataReceived(encode({"id": 2, "op": "ping"}) + frame(b""))
    ping, closing = read(again_transport)
    assert ping["ok"] and closing["error"]["details"]["reason"] == "refusals"
    assert again_transport.write_closed, "no fresh budget for connecting again"
    clock.advance(2.1)
    assert transport.disconnecting and again_transport.disconnecting
