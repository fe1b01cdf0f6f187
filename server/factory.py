"""The listening side: builds connections, admits them, and knows who is signed in where."""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Any

from twisted.internet.protocol import ServerFactory

from protocol.errors import ErrorCode, WarungError
from server.connection import WarungConnection
from server.dispatch import Dispatcher, Identity
from server.limits import AddressLimiter, Limits, TokenBucket
from server.metrics import Metrics
from server.turn_output import TurnFlusher

if TYPE_CHECKING:
    from server.events import EventHub


class WarungFactory(ServerFactory):
    def __init__(
        self, dispatcher: Dispatcher, hub: EventHub, limits: Limits, clock: Any, metrics: Metrics
    ) -> None:
        self.dispatcher = dispatcher
        self.metrics = metrics
        self.draining = False
        self.hub = hub
        self.limits = limits
        self.clock = clock
        self.connections: set[WarungConnection] = set()
        self.turns = TurnFlusher(clock)
        self.by_session: dict[int, set[WarungConnection]] = defaultdict(set)
        self._new_connections = AddressLimiter(
            limits.connections_per_address_per_s, limits.connection_burst_per_address
        )

    def buildProtocol(self, addr: Any) -> WarungConnection:
        return WarungConnection(self, getattr(addr, "host", str(addr)))

    def new_bucket(self) -> TokenBucket:
        return TokenBucket(self.limits.rate_per_s, self.limits.burst, self.clock.seconds())

    def admit(self, conn: WarungConnection) -> WarungError | None:
        """Register a new connection, or say why it is refused."""
        if len(self.connections) >= self.limits.max_connections:
            return WarungError(
                "the server is at its connection limit: try again later or another server",
                {"reason": "max_connections", "retry_after_ms": 1000},
                code=ErrorCode.UNAVAILABLE,
            )
        wait = self._new_connections.take(conn.address, self.clock.seconds())
        if wait:
            return WarungError(
                "too many new connections from this address",
                {"reason": "address", "retry_after_ms": int(wait * 1000) + 1},
                code=ErrorCode.RATE_LIMITED,
            )
        self.connections.add(conn)
        return None

    def forget(self, conn: WarungConnection) -> None:
        if conn not in self.connections:
            return
        self.connections.discard(conn)
        self._unlink(conn, conn.identity)
        self.hub.unsubscribe_all(conn)

    def signed_in(
        self, conn: WarungConnection, previous: Identity | None, identity: Identity | None
    ) -> None:
        self._unlink(conn, previous)
        if identity is not None:
            self.by_session[identity.session_id].add(conn)
            self.hub.watch_user(conn, identity.user_id)

    def sign_out_session(self, session_id: int) -> None:
        """Every connection signed in with this session is signed out."""
        for conn in list(self.by_session.get(session_id, ())):
            conn.sign_in(None)

    def _unlink(self, conn: WarungConnection, identity: Identity | None) -> None:
        if identity is None:
            return
        peers = self.by_session.get(identity.session_id)
        if peers is not None:
            peers.discard(conn)
            if not peers:
                del self.by_session[identity.session_id]
        self.hub.unwatch_user(conn, identity.user_id)
        self.hub.unsubscribe_all(conn)
