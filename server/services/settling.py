"""Settling the orders a stopped purchase left `pending`: ask the provider what became of
the charge, then mark the order paid (`completed` for a sale) or give its stock back and
cancel it (`interrupted`).

Orders are settled `AT_ONCE` at a time, read a page of ids at a time, so that many orders
left pending neither hold up anything else nor go to the provider all at once. They are
settled:

- at start, in the background while the server already listens (`server.app`);
- every `SWEEP_EVERY_S`, those pending longer than the lease (on PostgreSQL another
  server may be charging a fresh one);
- as soon as the SQLite writer is back after a crash: those pending since before it died,
  whose last write it may have taken with it;
- a moment after a purchase's last write here failed with `unavailable` (`lost`), its
  outcome unknown: it ran here, so no other server owns it.

An order whose payment steps still run on this server (`running`) is never settled behind
their back, and one order is settled by one call at a time.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial

from twisted.internet import defer
from twisted.internet.defer import Deferred
from twisted.logger import Logger
from twisted.python.failure import Failure

from protocol.errors import Unavailable, WarungError
from protocol.rules import OrderStatus
from server.clock import Clock
from server.dbexec import Executor
from server.events import EventHub
from server.payments import PaymentProvider, in_time
from server.services.order_jobs import mark_declined, mark_paid, paid_order, publish
from server.services.order_queries import find_order, pending_orders

AT_ONCE = 16  # provider lookups (and their writes) under way at a time
PAGE = 256  # pending order ids read at a time
LOST_RETRY_S = 1.0  # how soon an order whose last write was lost is settled
LOST_GIVE_UP_S = 64.0  # tries at 1, 3, 7, ... 127 s: then the lease sweep takes it

log = Logger()


class Settler:
    """Settles pending orders for this server: a few at a time, never one still running."""

    def __init__(
        self, dbx: Executor, hub: EventHub, provider: PaymentProvider, clock: Clock
    ) -> None:
        self.dbx = dbx
        self.hub = hub
        self.provider = provider
        self.clock = clock
        self.running: set[int] = set()  # orders whose payment steps run here
        self._settling: set[int] = set()

    def pending_before(self, moment_s: float | None) -> Deferred[int]:
        """Settle the orders pending since before `moment_s` (the clock's time, which is the
        wall time the write jobs stamp `updated_at` with; None: every pending order). Fires
        with how many this call settled."""
        before = None if moment_s is None else _timestamp(moment_s)
        return Deferred.fromCoroutine(self._pending_before(before))

    def lost(self, order_id: int, delay_s: float = LOST_RETRY_S) -> None:
        """The last write of `order_id`'s purchase failed with `unavailable`: whether it
        committed is unknown. Settle the order in `delay_s` (once its purchase has ended),
        and again twice as late each time the database is still away, until the lease
        sweep would take it anyway (a SQLite writer that is back settles it first)."""
        self.clock.callLater(delay_s, self._settle_lost, order_id, delay_s)

    def _settle_lost(self, order_id: int, delay_s: float) -> None:
        def again(failure: Failure) -> None:
            if failure.check(Unavailable) and delay_s < LOST_GIVE_UP_S:
                self.lost(order_id, 2 * delay_s)
            else:
                _not_settled(order_id, failure)

        Deferred.fromCoroutine(self._try(order_id)).addErrback(again)

    async def _pending_before(self, before: str | None) -> int:
        settled, after = 0, 0
        while True:
            page = await self.dbx.read(
                partial(pending_orders, updated_before=before, after_id=after, limit=PAGE)
            )
            settled += await self._each(page)
            if len(page) < PAGE:
                return settled
            after = page[-1]

    async def _each(self, order_ids: list[int]) -> int:
        """Settle `order_ids`, `AT_ONCE` at a time; how many were settled."""
        todo = iter(order_ids)

        async def worker() -> int:
            settled = 0
            for order_id in todo:  # shared: each worker takes the next order left
                settled += await self._one(order_id)
            return settled

        done = await defer.gatherResults(
            [Deferred.fromCoroutine(worker()) for _ in range(min(AT_ONCE, len(order_ids)))]
        )
        return sum(done)

    async def _one(self, order_id: int) -> bool:
        """`_try`, a failure logged and the order left pending for a later try."""
        try:
            return await self._try(order_id)
        except Exception:
            _not_settled(order_id, Failure())
            return False

    async def _try(self, order_id: int) -> bool:
        """Settle one order unless its purchase runs here or another call settles it;
        whether this call did."""
        if order_id in self.running or order_id in self._settling:
            return False
        self._settling.add(order_id)
        try:
            await self._settle(order_id)
        finally:
            self._settling.discard(order_id)
        return True

    async def _settle(self, order_id: int) -> None:
        charge = await in_time(self.provider.lookup(order_id), self.clock)
        if charge is not None and charge.approved:
            order = await self.dbx.read(lambda db: find_order(db, order_id))
            paid = OrderStatus.COMPLETED if order["channel"] == "pos" else OrderStatus.PAID
            when = await self.dbx.write(mark_paid, order_id, charge.reference, paid)
            publish(self.hub, paid_order(order, when, charge.reference, paid), [])
        else:
            order, changes = await self.dbx.write(mark_declined, order_id, None, "interrupted")
            publish(self.hub, order, changes)


def _not_settled(order_id: int, failure: Failure) -> None:
    """Log why an order was not settled: the database or the provider away, or the order
    settled meanwhile by another server (`conflict`); a traceback only for a bug."""
    if failure.check(WarungError, defer.TimeoutError):
        why = getattr(failure.value, "message", "the provider did not answer")
        log.info("order {id} was not settled here: {why}", id=order_id, why=why)
    else:
        log.failure("settling order {id}", failure, id=order_id)


def _timestamp(moment_s: float) -> str:
    """The clock's time `moment_s` as `sql.now()` writes timestamps."""
    return str(datetime.fromtimestamp(moment_s, UTC).replace(tzinfo=None))
