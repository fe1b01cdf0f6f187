"""Checkout: two short transactions around the payment (docs/architecture.md).

The first (`begin_checkout`) claims the idempotency key, takes the stock and writes the
order `pending`; the provider is charged with no transaction open; the second marks the
order `paid` (`mark_paid`: the bought lines leave the cart, the key is kept) or gives the
stock back and cancels it (`mark_declined`: the cart is kept, the key freed). A server
that dies in between, or whose second write is lost, leaves the order `pending`: the
`Settler` (`server.services.settling`) asks the provider what became of the charge and
finishes the order accordingly.

A card or e-wallet sale at the till (`server.services.sale`) takes the same steps after
its own first transaction: `OneRunPerKey` and `PaymentSteps` serve both.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from twisted.internet import defer
from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

from protocol.errors import PaymentDeclined, RateLimited, Unavailable
from protocol.rules import OrderStatus
from server.clock import Clock
from server.dbexec import Executor
from server.dispatch import Call
from server.events import EventHub
from server.idempotency import fingerprint, key_reused
from server.limits import AddressLimiter, Limits
from server.payments import PAYMENT_TIMEOUT_S, Charge, PaymentProvider, in_time
from server.services.order_jobs import (
    begin_checkout,
    mark_declined,
    mark_paid,
    paid_order,
    publish,
    stored_order,
)
from server.services.order_queries import Order
from server.services.settling import Settler
from server.serving import for_this_connection

PENDING_LEASE_S = 2 * PAYMENT_TIMEOUT_S
T = TypeVar("T")
Slot = tuple[int, str]  # (user, idempotency key)


class OneRunPerKey:
    """The purchases (checkouts and sales) running on this server, one per (user, key): a
    retry meanwhile with the same fingerprint waits for the first and shares its outcome,
    one with another fingerprint is `conflict`."""

    def __init__(self) -> None:
        self._running: dict[Slot, tuple[str, list[Deferred[Order]]]] = {}

    @property
    def busy(self) -> bool:
        return bool(self._running)

    def run(
        self,
        slot: Slot,
        print_: str,
        work: Callable[[], Deferred[Order]],
    ) -> Deferred[Order]:
        """`work()`'s outcome, run unless a run of `slot` is already under way (an exception
        `work` raises is its failure)."""
        waiter: Deferred[Order] = Deferred()
        running = self._running.get(slot)
        if running is not None:
            if running[0] != print_:
                raise key_reused()
            running[1].append(waiter)
            return waiter
        self._running[slot] = (print_, [waiter])
        defer.maybeDeferred(work).addBoth(self._finish, slot)
        return waiter

    def _finish(self, outcome: Order | Failure, slot: Slot) -> None:
        waiters = self._running.pop(slot)[1]
        if isinstance(outcome, Failure):
            if len(waiters) == 1:  # the usual case: the failure needs no copy
                waiters[0].errback(outcome)
                return
            for waiter in waiters:
                waiter.errback(Failure(outcome.value, outcome.type, outcome.tb))
            return
        for waiter in waiters:
            waiter.callback(outcome)


class PaymentSteps:
    """What follows the first transaction of a checkout, or of a card or e-wallet sale:
    charge the provider with no transaction open, then mark the order paid (`completed`
    for a sale) or give its stock back and cancel it."""

    def __init__(
        self,
        dbx: Executor,
        hub: EventHub,
        provider: PaymentProvider,
        clock: Clock,
        settler: Settler,
    ) -> None:
        self.dbx = dbx
        self.hub = hub
        self.provider = provider
        self.clock = clock
        self.settler = settler

    async def pay(
        self, order: Order, payment: dict[str, str], user_id: int, paid: OrderStatus
    ) -> Order:
        """The order as it ends, `paid` status; or raise `payment_declined`. Meanwhile the
        order is `running` here: nothing settles it behind these steps' back."""
        self.settler.running.add(order["id"])
        try:
            charge = await self._charge(order, payment)
            if charge.approved:
                return await self._paid(order, charge, paid)
            raise await self._declined(order, user_id, charge)
        finally:
            self.settler.running.discard(order["id"])

    async def _charge(self, order: Order, payment: dict[str, str]) -> Charge:
        """The provider's answer; `unavailable` if none comes in time (the order stays
        pending for `settle_pending`)."""
        charging = self.provider.charge(
            order["id"], order["total"], order["currency"], payment["method"], payment["token"]
        )
        try:
            return await in_time(charging, self.clock)
        except defer.TimeoutError:
            raise Unavailable(
                "the payment provider did not answer: retry later with the same idempotency key",
                {"retry_after_ms": int(PENDING_LEASE_S * 1000)},
            ) from None

    async def _paid(self, order: Order, charge: Charge, paid: OrderStatus) -> Order:
        when = await self._last_write(order["id"], mark_paid, charge.reference, paid)
        done = paid_order(order, when, charge.reference, paid)
        self.hub.publish_order(done)
        return done

    async def _declined(self, order: Order, user_id: int, charge: Charge) -> PaymentDeclined:
        """Give the stock back and cancel the order; the error to answer."""
        cancelled, changes = await self._last_write(
            order["id"], mark_declined, user_id, "payment_declined"
        )
        publish(self.hub, cancelled, changes)
        return PaymentDeclined(
            f"payment declined: {charge.reason}; try another card or method",
            {"reason": charge.reason, "order_id": order["id"]},
        )

    async def _last_write(self, order_id: int, job: Callable[..., T], *args: Any) -> T:
        """`job(order_id, *args)`, the write that settles the order. If it fails with
        `unavailable` (the writer died, the database went away), whether it committed is
        unknown: the order is left to the settler, which finds out in a moment."""
        try:
            return await self.dbx.write(job, order_id, *args)
        except Unavailable:
            self.settler.lost(order_id)
            raise


class Checkouts:
    """The checkouts running on this server, and the settling of those a crash left."""

    def __init__(
        self,
        dbx: Executor,
        hub: EventHub,
        provider: PaymentProvider,
        currency: str,
        clock: Clock,
        declines_per_hour: float = Limits.declines_per_account_per_hour,
    ) -> None:
        self.dbx = dbx
        self.hub = hub
        self.provider = provider
        self.currency = currency
        self.clock = clock
        # by account (its id as a str), like sign-ins by address
        self.declines = AddressLimiter(declines_per_hour / 3600.0, declines_per_hour)
        self.runs = OneRunPerKey()
        self.settler = Settler(dbx, hub, provider, clock)
        self.payments = PaymentSteps(dbx, hub, provider, clock, self.settler)

    @property
    def busy(self) -> bool:
        """A checkout or sale is running (maybe for a client already gone)."""
        return self.runs.busy

    def checkout(self, call: Call) -> Deferred[Order]:
        """One checkout per (customer, key) at a time; a retry meanwhile waits for it. An
        account whose payments were declined too often is refused for a while (`declines`):
        each decline writes an order, and card testing tries card after card."""
        print_ = fingerprint(call.op, call.args)
        slot = (call.identity.user_id, call.args["idempotency_key"])
        return self.runs.run(slot, print_, lambda: self._checkout(call, print_))

    def _repeat_or_refuse(
        self, user_id: int, key: str, print_: str, wait: float
    ) -> Deferred[Order]:
        """The account has no decline left: a repeat of a stored checkout is answered from
        it all the same (its first answer may have been lost), anything else is
        `rate_limited`, with nothing written."""

        def answer(order: Order | None) -> Order:
            if order is None:
                raise RateLimited(
                    "too many declined payments on this account: try again later",
                    {"reason": "declines", "retry_after_ms": int(wait * 1000) + 1},
                )
            return order

        return self.dbx.read(lambda db: stored_order(db, user_id, key, print_)).addCallback(answer)

    def _count_decline(self, outcome: Order | Failure, account: str) -> Order | Failure:
        """Keep the token the checkout took only if it was declined."""
        if not (isinstance(outcome, Failure) and outcome.check(PaymentDeclined)):
            self.declines.give_back(account)
        return outcome

    def _checkout(self, call: Call, print_: str) -> Deferred[Order]:
        """Begin, then charge and mark paid or declined: the order as it ends.

        The first write is chained, not awaited in a coroutine: a refused one (in a flash
        sale, thousands at once answer `out_of_stock`) then fails the run with the writer's
        own failure, rather than one thrown into the coroutine, raised out of it and
        captured again with its traceback. The payment and its write, run from that
        callback, stay the connection's (`for_this_connection`), as its writes at the
        writer are counted by connection (`server.write_slots`)."""
        me, payment = call.identity, call.args["payment"]
        account = str(me.user_id)
        # one of the account's declines, held while its checkout runs (a retry that waits
        # for it takes none)
        wait = self.declines.take(account, self.clock.seconds())
        if wait:
            return self._repeat_or_refuse(me.user_id, call.args["idempotency_key"], print_, wait)
        begun: Deferred[dict[str, Any]] = self.dbx.write(
            begin_checkout,
            me.user_id,
            call.args["idempotency_key"],
            print_,
            payment["method"],
            self.currency,
            self.provider.name,
            call.args.get("expected_total"),
        )
        paid = begun.addCallback(for_this_connection(self._pay), payment, me.user_id)
        return paid.addBoth(self._count_decline, account)

    def _pay(
        self, begun: dict[str, Any], payment: dict[str, str], user_id: int
    ) -> Order | Deferred[Order]:
        order = begun["order"]
        if begun["existing"]:
            return order
        publish(self.hub, order, begun["changes"])
        return Deferred.fromCoroutine(self.payments.pay(order, payment, user_id, OrderStatus.PAID))

    # -- after a crash

    def settle_pending(self, older_than_s: float | None = PENDING_LEASE_S) -> Deferred[int]:
        """Settle orders left `pending` by a checkout that stopped between its transactions.

        A checkout gives up on the provider after `PAYMENT_TIMEOUT_S`, so an order pending
        longer than the lease belongs to no running checkout on any server; `0` settles every
        order pending from before now (one server on SQLite, at start: nothing else can own
        one), `None` every pending order. The lease is counted on the service's clock (the
        reactor's is wall time, the time the write jobs stamp `updated_at` with). Fires with
        how many this call settled.
        """
        moment = None if older_than_s is None else self.clock.seconds() - older_than_s
        return self.settler.pending_before(moment)

    def settle_after_writer_crash(self, died_at: float) -> Deferred[int]:
        """The SQLite writer died at `died_at` (the clock's time) and is back: settle now the
        orders pending since before, whose last write it may have taken with it (not those
        whose checkout still runs here; on SQLite no other server runs any)."""
        return self.settler.pending_before(died_at)
