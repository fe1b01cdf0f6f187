"""The listening side: builds connections, admits them, and knows who is signed in where."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

from twisted.internet.protocol import ServerFactory

from protocol.errors import RateLimited, Unavailable, WarungError
from server.access_log import AccessLog
from server.clock import Clock
from server.connection import WarungConnection
from server.dispatch import Dispatcher, Identity
from server.frame_watch import PartialFrameBudget
from server.limits import AddressLimiter, Limits, TokenBucket
from server.metrics import Metrics
from server.queued_total import QueuedTotal
from server.security_log import SecurityLog
from server.session_registry import SessionRegistry
from server.turn_output import TurnFlusher

if TYPE_CHECKING:
    from server.events import EventHub


class WarungFactory(ServerFactory):
    def __init__(
        self,
        dispatcher: Dispatcher,
        hub: EventHub,
        limits: Limits,
        clock: Clock,
        metrics: Metrics,
        sessions: SessionRegistry | None = None,
        security: SecurityLog | None = None,
    ) -> None:
        """`sessions` is the registry the auth service signs sessions out through (a
        factory with no auth service, as in tests, keeps one of its own); `security` the
        server's security log (by default one of its own, writing to the server's log)."""
        self.dispatcher = dispatcher
        self.metrics = metrics
        self.draining = False
        self.hub = hub
        self.limits = limits
        self.clock = clock
        self.connections: set[WarungConnection] = set()
        self.turns = TurnFlusher(clock)
        self.queued_total = QueuedTotal(limits.max_queued_bytes_total)
        self.sessions = SessionRegistry() if sessions is None else sessions
        self.security = SecurityLog(clock) if security is None else security
        self.access = AccessLog(clock)
        self.partial_frames = PartialFrameBudget(
            limits.max_partial_frame_bytes, limits.max_partial_frame_bytes_per_address
        )
        self._open: Counter[str] = Counter()  # connections admitted, per address
        self._new_connections = AddressLimiter(
            limits.connections_per_address_per_s, limits.connection_burst_per_address
        )
        # frames refused before a handler ran, per address: so that connecting again does
        # not bring a client that floods refusals a fresh budget (`WarungConnection._refuse`)
        self.refusals = AddressLimiter(limits.refusals_per_s, limits.refusal_burst)

    def buildProtocol(self, addr: Any) -> WarungConnection:
        return WarungConnection(self, getattr(addr, "host", str(addr)))

    def new_bucket(self) -> TokenBucket:
        return TokenBucket(self.limits.rate_per_s, self.limits.burst, self.clock.seconds())

    def admit(self, conn: WarungConnection) -> WarungError | None:
        """Register a new connection, or say why it is refused (and log the refusal)."""
        refusal = self._refusal(conn.address)
        if refusal is not None:
            self.security.record("conn.refused", conn.address, reason=refusal.details["reason"])
            return refusal
        self.connections.add(conn)
        self._open[conn.address] += 1
        return None

    def _refusal(self, address: str) -> WarungError | None:
        if self.draining:  # a connection from a proxy whose header came in after the port closed
            return Unavailable(
                "this server is shutting down: reconnect, to it or another",
                {"reason": "draining", "retry_after_ms": 1000},
            )
        if len(self.connections) >= self.limits.max_connections:
            return Unavailable(
                "the server is at its connection limit: try again later or another server",
                {"reason": "max_connections", "retry_after_ms": 1000},
            )
        cap = self.limits.max_connections_per_address
        if self._open[address] >= cap:
            return RateLimited(
                f"this address has {cap} connections open, as many as it may: close one first",
                {"reason": "address_connections", "limit": cap, "retry_after_ms": 1000},
            )
        wait = self._new_connections.take(address, self.clock.seconds())
        if wait:
            return RateLimited(
                "too many new connections from this address",
                {"reason": "address", "retry_after_ms": int(wait * 1000) + 1},
            )
        return None

    def forget(self, conn: WarungConnection) -> None:
        if conn not in self.connections:
            return
        self.connections.discard(conn)
        self._open[conn.address] -= 1
        if not self._open[conn.address]:
            del self._open[conn.address]
        self._unlink(conn, conn.identity)
        self.hub.unsubscribe_all(conn)

    def signed_in(
        self, conn: WarungConnection, previous: Identity | None, identity: Identity | None
    ) -> None:
        self._unlink(conn, previous)
        if identity is not None:
            self.sessions.add(conn, identity.session_id)
            self.hub.watch_user(conn, identity.user_id)

    def _unlink(self, conn: WarungConnection, identity: Identity | None) -> None:
        if identity is None:
            return
        self.sessions.discard(conn, identity.session_id)
        self.hub.unwatch_user(conn, identity.user_id)
        self.hub.unsubscribe_all(conn)
