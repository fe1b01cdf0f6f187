"""Payment providers. A real one is a network service, so every call returns a Deferred,
and the order code never calls one while a database transaction is open."""

from __future__ import annotations

import itertools
import secrets
from dataclasses import dataclass
from typing import Any, Protocol

from twisted.internet.defer import Deferred
from twisted.internet.task import deferLater


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


class FakeProvider:
    """Approves every token but "decline"; `delay_s` makes it as slow as a real gateway.

    It remembers charges in memory only: after a restart it has never seen an order, so
    pending orders are released, as they would be for a provider that never took them.
    """

    name = "fake"

    def __init__(self, clock: Any, delay_s: float = 0.0) -> None:
        self.clock = clock
        self.delay_s = delay_s
        self.charges: dict[int, Charge] = {}
        self.refunds: list[tuple[str, int]] = []
        # References unique across servers and restarts, without a urandom call per charge.
        prefix = secrets.token_hex(4)
        self._references = (f"fake-{prefix}-{n}" for n in itertools.count(1))

    def _later(self, value: Any) -> Deferred[Any]:
        if self.delay_s <= 0:
            d: Deferred[Any] = Deferred()
            d.callback(value)
            return d
        return deferLater(self.clock, self.delay_s, lambda: value)

    def charge(
        self, order_id: int, amount: int, currency: str, method: str, token: str
    ) -> Deferred[Charge]:
        charge = self.charges.get(order_id)
        if charge is None:
            if token == "decline":
                charge = Charge(False, None, "card declined by the issuer")
            else:
                charge = Charge(True, next(self._references))
            self.charges[order_id] = charge
        return self._later(charge)

    def lookup(self, order_id: int) -> Deferred[Charge | None]:
        return self._later(self.charges.get(order_id))

    def refund(self, reference: str, amount: int) -> Deferred[None]:
        self.refunds.append((reference, amount))
        return self._later(None)
