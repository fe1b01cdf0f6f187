"""Payment providers. A real one is a network service, so every call returns a Deferred,
and the order code never calls one while a database transaction is open."""

from __future__ import annotations

import itertools
import secrets
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import deferLater
from twisted.logger import Logger

from protocol.errors import Unavailable
from server.clock import Clock

PAYMENT_TIMEOUT_S = 60.0
T = TypeVar("T")
log = Logger()


@dataclass(frozen=True)
class Charge:
    approved: bool
    reference: str | None
    reason: str | None = None


class PaymentProvider(Protocol):
    name: str

    def charge(
        self, order_id: int, amount: int, currency: str, method: str, token: str
    ) -> Deferred[Charge]:
        """Charge once per `order_id`: asking again for the same order returns the first."""

    def lookup(self, order_id: int) -> Deferred[Charge | None]:
        """What became of a charge for `order_id` (None: the provider never saw it)."""

    def refund(self, reference: str, amount: int) -> Deferred[None]: ...


def in_time(asking: Deferred[T], clock: Clock) -> Deferred[T]:
    """A provider call's answer, or `defer.TimeoutError` (the call cancelled) if none comes
    within `PAYMENT_TIMEOUT_S`: no charge or refund holds its request longer. An answer
    already there (a provider that answers at once) needs no timer: scheduling one and
    cancelling it was 4% of the reactor's time in a checkout run."""
    if asking.called and not asking.paused:  # answered, not waiting on another Deferred
        return asking
    return asking.addTimeout(PAYMENT_TIMEOUT_S, IReactorTime(clock))


async def pay_back(
    provider: PaymentProvider,
    clock: Clock,
    charge: str,
    amount: int,
    done: str,
    details: dict[str, Any],
) -> None:
    """Pay `amount` of `charge` back, asking the provider once, after the commit of what
    `done` says ("refund 7 is recorded"). If the provider fails or does not answer in time,
    log it and raise `unavailable` `{"reason": "provider", **details}`: what was committed
    stays, and the money is settled with the provider, since asking again could pay twice."""
    try:
        await in_time(provider.refund(charge, amount), clock)
    except Exception:  # whatever the provider failed with, or no answer in time
        log.failure(
            "the provider did not refund {amount} of charge {charge}: {done}",
            amount=amount,
            charge=charge,
            done=done,
        )
        raise not_paid_back(done, amount, details) from None


def not_paid_back(done: str, amount: int, details: dict[str, Any]) -> Unavailable:
    """`unavailable` `{"reason": "provider", **details}`: the provider did not confirm
    paying `amount` back after what `done` says was committed."""
    return Unavailable(
        f"{done}, but the payment provider did not confirm paying back {amount}: "
        "settle it with the provider",
        {"reason": "provider", **details},
    )


class FakeProvider:
    """Approves every token but "decline"; `delay_s` makes it as slow as a real gateway.

    It remembers charges in memory only, and for `REMEMBER_S` (long past any payment
    timeout and pending-order sweep), so a server that runs for months does not grow: after
    a restart, or that long, it has never seen an order, so a pending one is released, as it
    would be for a provider that never took it.
    """

    name = "fake"
    REMEMBER_S = 3600.0

    def __init__(self, clock: Clock, delay_s: float = 0.0) -> None:
        self.clock = clock
        self.delay_s = delay_s
        self.charges: OrderedDict[int, tuple[float, Charge]] = OrderedDict()  # oldest first
        # References unique across servers and restarts, without a urandom call per charge.
        prefix = secrets.token_hex(4)
        self._references = (f"fake-{prefix}-{n}" for n in itertools.count(1))

    def _later(self, value: Any) -> Deferred[Any]:
        if self.delay_s <= 0:
            d: Deferred[Any] = Deferred()
            d.callback(value)
            return d
        return deferLater(IReactorTime(self.clock), self.delay_s, lambda: value)

    def charge(
        self, order_id: int, amount: int, currency: str, method: str, token: str
    ) -> Deferred[Charge]:
        self._forget_old()
        known = self.charges.get(order_id)
        if known is not None:
            return self._later(known[1])
        if token == "decline":
            charge = Charge(False, None, "card declined by the issuer")
        else:
            charge = Charge(True, next(self._references))
        self.charges[order_id] = (self.clock.seconds(), charge)
        return self._later(charge)

    def lookup(self, order_id: int) -> Deferred[Charge | None]:
        self._forget_old()
        known = self.charges.get(order_id)
        return self._later(known[1] if known is not None else None)

    def refund(self, reference: str, amount: int) -> Deferred[None]:
        return self._later(None)

    def _forget_old(self) -> None:
        horizon = self.clock.seconds() - self.REMEMBER_S
        while self.charges and next(iter(self.charges.values()))[0] < horizon:
            self.charges.popitem(last=False)
