"""Quantities typed in the cart faster than the server answers.

Each `+`/`-` (or a typed quantity) changes the wanted quantity of its line at once; the
cart then sends only the latest one per line with `cart.set`, one call in flight per line,
so no press is lost to a stale read and the server never gets an in-between quantity that
a later press has already replaced.
"""

from __future__ import annotations

from protocol.rules import MAX_QTY


class PendingQuantities:
    """The quantities wanted per product that the server has not confirmed yet."""

    def __init__(self) -> None:
        self._wanted: dict[int, int] = {}
        self._sending: dict[int, int] = {}  # product id: the quantity in flight

    def shown(self, product_id: int, confirmed: int) -> int:
        """The quantity to show for a line whose server quantity is `confirmed`."""
        return self._wanted.get(product_id, confirmed)

    def change(self, product_id: int, confirmed: int, delta: int) -> int:
        """One more (or less) than shown, kept from 0 to MAX_QTY; returns the new wish."""
        return self.want(product_id, self.shown(product_id, confirmed) + delta)

    def want(self, product_id: int, qty: int) -> int:
        qty = max(0, min(MAX_QTY, qty))
        self._wanted[product_id] = qty
        return qty

    def pending(self, product_id: int) -> bool:
        return product_id in self._wanted

    def next_to_send(self, product_id: int) -> int | None:
        """The quantity to send now, marked in flight; None while one is in flight or when
        nothing new is wanted."""
        if product_id in self._sending or product_id not in self._wanted:
            return None
        qty = self._wanted[product_id]
        self._sending[product_id] = qty
        return qty

    def answered(self, product_id: int, ok: bool) -> None:
        """The call in flight for this line is answered. A wish the server now holds (or that
        it refused: the server's cart is then shown as it is) is done; a newer one waits."""
        sent = self._sending.pop(product_id, None)
        if not ok or self._wanted.get(product_id) == sent:
            self._wanted.pop(product_id, None)

    def products(self) -> list[int]:
        return list(self._wanted)
