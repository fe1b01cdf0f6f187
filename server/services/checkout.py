"""Checkout: two short transactions around the payment (docs/architecture.md).

The first (`begin_checkout`) claims the idempotency key, takes the stock and writes the
order `pending`; the provider is charged with no transaction open; the second marks the
order `paid` (`mark_paid`: the bought lines leave the cart, the key is kept) or gives the
stock back and cancels it (`mark_declined`: the cart is kept, the key freed). A server
that dies in between leaves the order `pending`: `settle_pending` asks the provider what
became of the charge and finishes the order accordingly.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from twisted.internet import defer
from twisted.internet.defer import Deferred
from twisted.logger import Logger
from twisted.python.failure import Failure

from db.models import utcnow
from protocol.errors import PaymentDeclined, Unavailable, WarungError
from protocol.rules import OrderStatus
from server.dbexec import DatabaseExecutor
from server.dispatch import Call
from server.events import EventHub
from server.idempotency import fingerprint, key_reused
from server.payments import Charge, PaymentProvider
from server.services.order_jobs import begin_checkout, mark_declined, mark_paid, publish
from server.services.order_queries import find_order, pending_orders

PAYMENT_TIMEOUT_S = 60.0
PENDING_LEASE_S = 2 * PAYMENT_TIMEOUT_S
log = Logger()
Order = dict[str, Any]


class Checkouts:
    """The checkouts running on this server, and the settling of those a crash left."""

    def __init__(
        self,
        dbx: DatabaseExecutor,
        hub: EventHub,
        provider: PaymentProvider,
        currency: str,
        clock: Any,
    ) -> None:
        self.dbx = dbx
        self.hub = hub
        self.provider = provider
        self.currency = currency
        self.clock = clock
        self._running: dict[tuple[int, str], tuple[str, list[Deferred[Order]]]] = {}

    @property
    def busy(self) -> bool:
        """A checkout is running (maybe for a client already gone)."""
        return bool(self._running)

    def checkout(self, call: Call) -> Deferred[Order]:
        """One checkout per (customer, key) at a time; a retry meanwhile waits for it."""
        slot = (call.identity.user_id, call.args["idempotency_key"])
        print_ = fingerprint(call.op, call.args)  # the payment: the cart may have changed
        waiter: Deferred[Order] = Deferred()
        running = self._running.get(slot)
        if running is not None:
            if running[0] != print_:
                raise key_reused()
            running[1].append(waiter)
            return waiter
        self._running[slot] = (print_, [waiter])
        Deferred.fromCoroutine(self._checkout(call, print_)).addBoth(self._finish, slot)
        return waiter

    def _finish(self, outcome: Order | Failure, slot: tuple[int, str]) -> None:
        for waiter in self._running.pop(slot)[1]:
            if isinstance(outcome, Failure):
                waiter.errback(Failure(outcome.value, outcome.type, outcome.tb))
            else:
                waiter.callback(outcome)

    async def _checkout(self, call: Call, print_: str) -> Order:
        """Begin, charge, then mark paid or declined: the order as it ends."""
        me, payment = call.identity, call.args["payment"]
        begun = await self.dbx.write(
            begin_checkout,
            me.user_id,
            call.args["idempotency_key"],
            print_,
            payment["method"],
            self.currency,
            self.provider.name,
        )
        order = begun["order"]
        if begun["existing"]:
            return order
        publish(self.hub, order, begun["changes"])
        charge = await self._charge(order, payment)
        if charge.approved:
            return await self._paid(order, charge)
        raise await self._declined(order, me.user_id, charge)

    async def _charge(self, order: Order, payment: dict[str, str]) -> Charge:
        """The provider's answer; `unavailable` if none comes in time (the order stays
        pending for `settle_pending`)."""
        charging = self.provider.charge(
            order["id"], order["total"], order["currency"], payment["method"], payment["token"]
        )
        try:
            return await charging.addTimeout(PAYMENT_TIMEOUT_S, self.clock)
        except defer.TimeoutError:
            raise Unavailable(
                "the payment provider did not answer: retry later with the same idempotency key",
                {"retry_after_ms": int(PENDING_LEASE_S * 1000)},
            ) from None

    async def _paid(self, order: Order, charge: Charge) -> Order:
        when = await self.dbx.write(mark_paid, order["id"], charge.reference)
        paid = {
            **order,
            "status": OrderStatus.PAID,
            "updated_at": when,
            "payment": {**order["payment"], "status": "captured", "reference": charge.reference},
        }
        self.hub.publish_order(paid)
        return paid

    async def _declined(self, order: Order, user_id: int, charge: Charge) -> PaymentDeclined:
        """Give the stock back and cancel the order; the error to answer."""
        cancelled, changes = await self.dbx.write(
            mark_declined, order["id"], user_id, "payment_declined"
        )
        publish(self.hub, cancelled, changes)
        return PaymentDeclined(
            f"payment declined: {charge.reason}; try another card or method",
            {"reason": charge.reason, "order_id": order["id"]},
        )

    # -- after a crash

    def settle_pending(self, older_than_s: float | None = PENDING_LEASE_S) -> Deferred[int]:
        """Settle orders left `pending` by a checkout that stopped between its transactions.

        A checkout gives up on the provider after `PAYMENT_TIMEOUT_S`, so an order pending
        longer than the lease belongs to no running checkout on any server; `None` settles
        every pending order (one server on SQLite, at start: nothing else can own one).
        Fires with how many this call settled.
        """
        return Deferred.fromCoroutine(self._settle_pending(older_than_s))

    async def _settle_pending(self, older_than_s: float | None) -> int:
        before = None if older_than_s is None else str(utcnow() - timedelta(seconds=older_than_s))
        settled = 0
        for order_id in await self.dbx.read(lambda db: pending_orders(db, before)):
            try:
                await self._settle(order_id)
            except WarungError as lost:  # settled meanwhile by its checkout or another server
                log.info("order {id} was settled elsewhere: {why}", id=order_id, why=lost.message)
            else:
                settled += 1
        return settled

    async def _settle(self, order_id: int) -> None:
        charge = await self.provider.lookup(order_id)
        if charge is not None and charge.approved:
            await self.dbx.write(mark_paid, order_id, charge.reference)
            publish(self.hub, await self.dbx.read(lambda db: find_order(db, order_id)), [])
        else:
            order, changes = await self.dbx.write(mark_declined, order_id, None, "interrupted")
            publish(self.hub, order, changes)
