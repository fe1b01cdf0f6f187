"""The push half of a connection: stock values, orders of the staff feed and events, each
within what the connection may queue, and the push producer its transport pauses.

While paused, stock values wait in a dict keyed by product (newest wins) and reading from
the socket stops; a connection paused longer than `paused_close_s` is closed. Orders of the
staff feed wait the same way, the newest per order, at most `MAX_HELD_ORDERS` of them.

Everything queued to a connection (what its transport has not sent, and the pushes it
holds while paused) stays within a byte budget, checked and charged in one step
(`_write_within`, `_hold`): a push that would take it past `limits.max_queued_push_bytes`
is dropped and uses its `seq` (the client sees a gap); a reply that would take it past
`limits.max_queued_bytes` closes the connection (`server.connection`), since a reply must
not be lost. In the same step the bytes are charged to what all connections together may
queue (`server.queued_total`), which closes the connections holding most when it is full.
"""

from __future__ import annotations

import typing
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from twisted.logger import Logger

from protocol.codec import packb
from protocol.envelope import PushTemplate, push
from protocol.framing import HEADER, frame

if TYPE_CHECKING:
    from server.clock import Clock
    from server.limits import Limits
    from server.metrics import PushCounts
    from server.queued_total import QueuedTotal
    from server.turn_output import TurnOutput

log = Logger()
MAX_HELD_ORDERS = 1000  # staff feed orders kept while paused; past it, dropped as a seq gap


class TCPTransport(typing.Protocol):
    """What a connection asks of its transport: Twisted's TCP or TLS transport.

    Twisted types `Protocol.transport` as the narrower `ITransport | None`, and mypy reads
    the methods of its zope interfaces as taking no `self`; this says what is really there.
    """

    def loseConnection(self) -> None: ...
    def loseWriteConnection(self) -> None: ...
    def abortConnection(self) -> None: ...
    def registerProducer(self, producer: object, streaming: bool) -> None: ...
    def unregisterProducer(self) -> None: ...
    def pauseProducing(self) -> None: ...
    def resumeProducing(self) -> None: ...


class PushProducer:
    """The pushes of a connection (`WarungConnection` mixes this in): it provides the
    attributes declared here and calls `init_pushes` as it is made."""

    limits: Limits
    out: TurnOutput
    transport: Any
    address: str
    conn_id: int | None
    closing: bool
    client_max_frame: int | None
    shed: Callable[[int], None]  # closes it at once, to make room in `queued_total`

    def init_pushes(self, pushes: PushCounts, clock: Clock, queued_total: QueuedTotal) -> None:
        self.seq = 0
        self.paused = False
        self.pending_stock: dict[int, PushTemplate] = {}
        self.pending_orders: dict[int, PushTemplate] = {}
        self.held_bytes = 0  # the most bytes the pending pushes take as frames
        self._pause_timer: Any = None
        self._pushes = pushes
        self._clock = clock  # pauses are timed on it
        self.queued_total = queued_total
        self.charged = 0  # this connection's bytes in `queued_total`

    @property
    def tcp(self) -> TCPTransport:
        return cast(TCPTransport, self.transport)

    def queued_bytes(self) -> int:
        """Bytes queued to this client: written and not yet sent, and pushes held."""
        return self.out.unsent() + self.held_bytes

    def _write_within(self, data: bytes, budget: int) -> bool:
        """Write `data` if what is queued stays within `budget`; whether it was written."""
        out = self.out
        queued = out.held_bytes + out.backlog() + self.held_bytes + len(data)
        if queued > budget or not self.queued_total.charge(self, queued):
            return False  # (queued_bytes(), inline: this runs for every reply and push)
        out.write(data)
        return True

    def drained(self) -> None:
        """What was written has all gone to the kernel: only the pushes held remain charged
        to the server's sum, so that a client that reads is not counted as holding bytes,
        and a recount of every connection stays rare (`server.queued_total`)."""
        if self.held_bytes and not self.closing:  # (a closing one sends no held pushes)
            self.queued_total.charge(self, self.held_bytes)
        else:
            self.queued_total.release(self)

    def _hold(
        self, pending: dict[int, PushTemplate], key: int, template: PushTemplate, room: bool
    ) -> None:
        """Keep `template` as the newest push for `key` while paused, charged to the budget.

        It replaces the one held for `key`; a new key needs `room`. One that does not fit is
        dropped and uses its `seq`, so the client sees a gap and asks again."""
        replaced = pending.pop(key, None)
        if replaced is not None:
            self.held_bytes -= replaced.size
            self._pushes.conflated += 1
        queued = self.queued_bytes() + template.size
        fits = queued <= self.limits.max_queued_push_bytes and (room or replaced is not None)
        if fits and self.queued_total.charge(self, queued):
            pending[key] = template
            self.held_bytes += template.size
        else:
            self.seq += 1
            self._pushes.dropped += 1

    def _where(self) -> dict[str, Any]:
        """The fields that name this connection in a log line."""
        return {"conn": self.conn_id, "address": self.address}

    def send_event(self, event: str, data: dict[str, Any]) -> None:
        """A push that is never conflated (order changes, shutdown notices), but dropped as
        a `seq` gap past the push budget."""
        if self.closing:
            return
        self.seq += 1
        body = packb(push(event, self.seq, data))
        if self.client_max_frame is not None and len(body) > self.client_max_frame:
            log.info("skipped a {n}-byte push over the client's max_frame", n=len(body))
            self._pushes.dropped += 1
            return  # the client sees the gap in seq
        self._push(frame(body))

    def send_stock(self, product_id: int, template: PushTemplate) -> None:
        """A stock value: written now, or kept as the newest for this product while paused."""
        if self.closing:
            return
        if self.paused:
            self._hold(self.pending_stock, product_id, template, room=True)
            return
        self.seq += 1
        self._push(template.frame(self.seq))

    def send_order(self, order_id: int, template: PushTemplate) -> None:
        """An order of the staff feed: written now, or kept as the newest for this order
        while paused. Past `MAX_HELD_ORDERS` orders kept, or past the push budget, a push is
        dropped but takes its `seq`, so the client sees the gap and asks `order.subscribe`
        again."""
        if self.closing:
            return
        if self.paused:
            room = len(self.pending_orders) < MAX_HELD_ORDERS
            self._hold(self.pending_orders, order_id, template, room)
            return
        self.seq += 1
        data = template.frame(self.seq)
        if self.client_max_frame is not None and len(data) - HEADER.size > self.client_max_frame:
            log.info("skipped a {n}-byte push over the client's max_frame", n=len(data))
            self._pushes.dropped += 1
            return  # the client sees the gap in seq
        self._push(data)

    def _push(self, data: bytes) -> None:
        """Write a push that has taken its `seq`; one past the push budget is dropped, and the
        client sees the gap in `seq`."""
        if self._write_within(data, self.limits.max_queued_push_bytes):
            self._pushes.sent += 1
        else:
            self._pushes.dropped += 1

    # -- IPushProducer: the transport's buffer is full, or has drained

    def pauseProducing(self) -> None:
        if self.paused:
            return
        self.paused = True
        self.tcp.pauseProducing()
        self._pause_timer = self._clock.callLater(self.limits.paused_close_s, self._paused_too_long)

    def resumeProducing(self) -> None:
        if not self.paused or self.closing:
            return
        self.paused = False
        self._cancel_pause_timer()
        stock, self.pending_stock = self.pending_stock, {}
        orders, self.pending_orders = self.pending_orders, {}
        self.held_bytes = 0  # each is sent now, held again, or dropped: charged anew
        for product_id, template in stock.items():
            self.send_stock(product_id, template)
        for order_id, template in orders.items():
            self.send_order(order_id, template)
        if not self.paused:
            self.tcp.resumeProducing()

    def stopProducing(self) -> None:
        self.closing = True

    def _paused_too_long(self) -> None:
        self._pause_timer = None
        log.info(
            "closing conn {conn} ({address}): it took no data for {s} s",
            **self._where(),
            s=self.limits.paused_close_s,
        )
        self.abort()

    def abort(self) -> None:
        """Close at once, dropping what is queued: its bytes leave the server's sum now, so
        that a shedding before `connectionLost` neither counts nor closes it again."""
        self.closing = True
        self.queued_total.release(self)
        self.tcp.abortConnection()

    def _cancel_pause_timer(self) -> None:
        if self._pause_timer is not None and self._pause_timer.active():
            self._pause_timer.cancel()
        self._pause_timer = None
