"""The PROXY protocol's gate alone, deterministic: StringTransport for the socket, Clock for
time. (Over real sockets, TLS and HAProxy: tests/e2e/test_proxy_protocol.py, test_deploy.py.)"""

import ipaddress
import json

from twisted.internet.address import IPv4Address
from twisted.internet.task import Clock

from protocol.framing import encode
from protocol.ops import Op
from server.connection import WarungConnection
from server.dispatch import Dispatcher, Handler
from server.events import EventHub, next_turn
from server.factory import WarungFactory
from server.limits import Limits
from server.metrics import Metrics
from server.proxy_gate import ProxyGate, ProxyGateFactory
from server.security_log import SecurityLog
from server.services.session import SessionService
from tests.server.test_connection import SHOP, Transport, read

PROXY = IPv4Address("TCP", "10.0.0.5", 51000)
HELLO = encode({"id": 1, "op": "hello", "args": {"protocol": 1, "client": "t"}})


def gate(limits: Limits | None = None) -> tuple[ProxyGateFactory, Clock, list[dict]]:
    limits = limits or Limits()
    clock, lines = Clock(), []
    security = SecurityLog(clock, lambda line: lines.append(json.loads(line)))
    session = SessionService(limits, SHOP)
    table: dict[str, Handler] = {Op.HELLO: session.hello, Op.PING: session.ping}
    server = WarungFactory(
        Dispatcher(table), EventHub(next_turn(clock)), limits, clock, Metrics(), security=security
    )
    return ProxyGateFactory(server, server, [ipaddress.ip_network("10.0.0.0/29")]), clock, lines


def connect(factory: ProxyGateFactory, peer: IPv4Address = PROXY) -> Transport:
    transport = Transport(peerAddress=peer)
    transport.protocol = factory.buildProtocol(peer)
    transport.protocol.makeConnection(transport)
    return transport


def test_the_server_protocol_is_built_for_the_client_once_the_header_is_in():
    factory, _, _ = gate()
    transport = connect(factory)
    assert isinstance(transport.protocol, ProxyGate)
    assert factory.server.connections == set(), "not admitted before the header"
    stream = b"PROXY TCP4 203.0.113.7 10.0.0.1 40000 7411\r\n" + HELLO
    transport.protocol.dataReceived(stream[:20])
    transport.protocol.dataReceived(stream[20:])  # the header's end and the hello at once
    conn = transport.protocol
    assert isinstance(conn, WarungConnection)
    assert conn.address == "203.0.113.7"
    assert factory.server.connections == {conn}
    assert read(transport)[0]["ok"]  # the bytes after the header were not lost


def test_a_connection_not_from_a_proxy_goes_straight_to_the_server():
    factory, _, _ = gate()
    transport = connect(factory, IPv4Address("TCP", "10.0.0.9", 1))
    assert isinstance(transport.protocol, WarungConnection)
    assert transport.protocol.address == "10.0.0.9"


def test_a_header_not_in_by_its_deadline_aborts_the_connection():
    factory, clock, lines = gate(Limits(proxy_header_s=2))
    transport = connect(factory)
    transport.protocol.dataReceived(b"PROXY TCP4 ")
    clock.advance(1.9)
    assert not transport.disconnecting
    clock.advance(0.2)
    assert transport.disconnected
    assert [(e["event"], e["address"], e["reason"]) for e in lines] == [
        ("conn.closed", "10.0.0.5", "proxy_deadline")
    ]


def test_a_header_read_in_time_cancels_its_deadline():
    factory, clock, lines = gate(Limits(proxy_header_s=2))
    transport = connect(factory)
    transport.protocol.dataReceived(b"PROXY UNKNOWN\r\n")
    clock.advance(3)
    assert not transport.disconnected
    assert lines == []
    conn = transport.protocol
    assert isinstance(conn, WarungConnection)
    assert conn.address == "10.0.0.5"  # UNKNOWN: the proxy's own address


def test_a_header_that_arrives_while_the_server_drains_is_refused():
    factory, _, _ = gate()
    transport = connect(factory)
    factory.server.draining = True
    transport.protocol.dataReceived(b"PROXY TCP4 203.0.113.7 10.0.0.1 40000 7411\r\n" + HELLO)
    [refusal] = read(transport)
    assert refusal["error"]["details"]["reason"] == "draining"
    assert transport.disconnecting
    assert factory.server.connections == set()
