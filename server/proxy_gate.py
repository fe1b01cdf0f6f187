"""The listening side of the PROXY protocol: a connection from a proxy starts with its header.

`ProxyGateFactory` sits on the listening port, outside everything else (outside TLS too: a
proxy in TCP passthrough sends its header before the client's TLS handshake). A connection
from an address of `--proxy-from` gets a `ProxyGate`, which reads the header
(`server.proxy_header`) within `limits.proxy_header_s`; only then is the server's protocol
built, for the client's address, and handed the connection, so that every per-address limit
is checked and charged on that address in one step when the connection is admitted, and the
logs, the security log and the audit name it. The bytes after the header are its first.

A connection from any other address goes straight to the server's protocol, as without a
proxy; one that opens with a PROXY header anyway is refused there (`WarungConnection`): no
header is honoured from an address that is not a configured proxy.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.protocol import Protocol, ServerFactory, connectionDone
from twisted.logger import Logger
from twisted.python.failure import Failure

from server.proxy_header import BadProxyHeader, ProxyHeader, ProxyHeaderParser

if TYPE_CHECKING:
    from server.factory import WarungFactory

log = Logger()
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class ProxyGateFactory(ServerFactory):
    def __init__(self, wrapped: Any, server: WarungFactory, proxies: Sequence[Network]) -> None:
        """`wrapped`: the factory connections go to (the server's, or the TLS one around it);
        `server`: the server's factory, for its clock, limits and security log."""
        self.wrapped = wrapped
        self.server = server
        self.proxies = tuple(proxies)

    def logPrefix(self) -> str:
        prefix: str = self.wrapped.logPrefix()
        return prefix

    def doStart(self) -> None:
        self.wrapped.doStart()

    def doStop(self) -> None:
        self.wrapped.doStop()

    def buildProtocol(self, addr: Any) -> Any:
        if self.proxies and self.is_proxy(addr.host):
            return ProxyGate(self, addr)
        return self.wrapped.buildProtocol(addr)

    def is_proxy(self, host: str) -> bool:
        address = ipaddress.ip_address(host)
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return any(address in network for network in self.proxies)


class ProxyGate(Protocol):
    """A connection from a proxy until its header is read; then the server's protocol's."""

    def __init__(self, gate: ProxyGateFactory, peer: Any) -> None:
        self.gate = gate
        self.peer = peer
        self.parser = ProxyHeaderParser()
        self._deadline: Any = None

    def connectionMade(self) -> None:
        self._deadline = self.gate.server.clock.callLater(
            self.gate.server.limits.proxy_header_s, self._too_slow
        )

    def dataReceived(self, data: bytes) -> None:
        result = self.parser.feed(data)
        if result is None:
            return
        self._deadline.cancel()
        if isinstance(result, BadProxyHeader):
            self._refuse(result)
        else:
            self._hand_over(result)

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        if self._deadline is not None and self._deadline.active():
            self._deadline.cancel()

    @property
    def _tcp(self) -> Any:
        """The TCP transport (Twisted types it as the narrower, zope-typed `ITransport`)."""
        return self.transport

    def _hand_over(self, header: ProxyHeader) -> None:
        """Build the server's protocol for the client and make it the transport's protocol.

        Twisted's TCP transport calls whatever its `protocol` attribute holds, so after this
        the gate is out of the way: no wrapper between the server's protocol and the socket
        for the life of the connection."""
        client = self.peer if header.client is None else _address(*header.client)
        protocol = self.gate.wrapped.buildProtocol(client)
        transport = self._tcp
        if protocol is None:
            transport.abortConnection()
            return
        transport.protocol = protocol
        protocol.makeConnection(transport)
        if header.rest and not transport.disconnecting:
            protocol.dataReceived(header.rest)

    def _refuse(self, bad: BadProxyHeader) -> None:
        log.info(
            "closing {address}: {problem}: {seen}",
            address=self.peer.host,
            problem=bad.problem,
            seen=bad.seen,
        )
        self.gate.server.security.record(
            "conn.closed", self.peer.host, reason="proxy_header", problem=bad.problem, seen=bad.seen
        )
        self._tcp.loseConnection()

    def _too_slow(self) -> None:
        log.info("closing {address}: no PROXY header in time", address=self.peer.host)
        self.gate.server.security.record("conn.closed", self.peer.host, reason="proxy_deadline")
        self._tcp.abortConnection()


def _address(host: str, port: int) -> IPv4Address | IPv6Address:
    if ":" in host:
        return IPv6Address("TCP", host, port)
    return IPv4Address("TCP", host, port)
