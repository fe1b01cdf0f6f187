"""The point-of-sale ticket: what the customer at the till is buying, before it is rung up.

Plain data and integer arithmetic, no terminal: the point-of-sale view draws it and
`clerk.sale` takes its lines. The ticket also holds the sale's idempotency key, so a
retry after a lost link repeats the same sale whichever dialog sends it. After a doubtful
answer (the sale may have gone through) the ticket is locked to that sale, lines and
payment, until a definite answer or until the clerk abandons it: otherwise its key, reused
for another sale, would be refused, and a new key could sell the same goods twice.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from typing import Any

from protocol.rules import MAX_QTY

MAX_LINES = 100  # lines in one clerk.sale (PROTOCOL.md 12.7)
_ENTRY = re.compile(r"\s*(?:(\d+)\s*\*)?\s*(.*?)\s*", re.DOTALL)


class TicketError(ValueError):
    """What the clerk typed or asked cannot go on the ticket; the message says why."""


@dataclass(frozen=True)
class Entry:
    """One line typed at the till: `SKU`, `3*SKU`, a name, or `2*name`."""

    qty: int
    text: str


def parse_entry(typed: str) -> Entry:
    match = _ENTRY.fullmatch(typed)
    assert match is not None  # the pattern matches any string
    qty = int(match[1]) if match[1] else 1
    if not 1 <= qty <= MAX_QTY:
        raise TicketError(f"A quantity is 1 to {MAX_QTY}, as in 3*SKU.")
    if not match[2]:
        raise TicketError("Type a SKU or a product name (3*SKU for three).")
    return Entry(qty, match[2])


@dataclass
class TicketLine:
    product_id: int
    sku: str
    name: str
    unit_price: int
    qty: int

    @property
    def line_total(self) -> int:
        return self.unit_price * self.qty


class Ticket:
    def __init__(self) -> None:
        self.lines: list[TicketLine] = []
        self.idempotency_key = new_key()
        self.in_doubt: dict[str, Any] | None = None  # the payment of a sale in doubt

    @property
    def total(self) -> int:
        return sum(line.line_total for line in self.lines)

    @property
    def count(self) -> int:
        return sum(line.qty for line in self.lines)

    def line(self, product_id: int) -> TicketLine | None:
        return next((ln for ln in self.lines if ln.product_id == product_id), None)

    def check_editable(self) -> None:
        """TicketError while a sale of this ticket is in doubt."""
        if self.in_doubt is not None:
            raise TicketError(
                "The last sale of this ticket may have gone through: pay again to send the "
                "same sale, or abandon it there, before changing the ticket."
            )

    def add(self, product: dict[str, Any], qty: int) -> TicketLine:
        """Put `qty` units of `product` on the ticket: on its line if it has one."""
        self.check_editable()
        if product.get("archived"):
            raise TicketError(f"{product['name']} is archived: it is not for sale.")
        line = self.line(product["id"])
        if line is not None:
            self.set_qty(line.product_id, line.qty + qty)
            return line
        if len(self.lines) >= MAX_LINES:
            raise TicketError(f"A ticket holds at most {MAX_LINES} lines: sell these first.")
        line = TicketLine(product["id"], product["sku"], product["name"], product["price"], qty)
        self.lines.append(line)
        return line

    def set_qty(self, product_id: int, qty: int) -> None:
        self.check_editable()
        line = self.line(product_id)
        if line is None:
            raise TicketError("That product is not on the ticket.")
        if not 1 <= qty <= MAX_QTY:
            raise TicketError(f"A line holds 1 to {MAX_QTY} units.")
        line.qty = qty

    def remove(self, product_id: int) -> None:
        self.check_editable()
        self.lines = [ln for ln in self.lines if ln.product_id != product_id]

    def sale_lines(self) -> list[dict[str, int]]:
        """The `lines` argument of `clerk.sale`."""
        return [{"product_id": ln.product_id, "qty": ln.qty} for ln in self.lines]

    def offline_lines(self) -> list[dict[str, int]]:
        """The lines of a sale rung up offline: with the price the till charged."""
        return [
            {"product_id": ln.product_id, "qty": ln.qty, "unit_price": ln.unit_price}
            for ln in self.lines
        ]

    def names(self) -> dict[int, str]:
        return {ln.product_id: ln.name for ln in self.lines}

    def new_sale(self) -> None:
        """After a sale: an empty ticket with a new key."""
        self.lines = []
        self.renew_key()

    def renew_key(self) -> None:
        """After a definite answer (declined, short of stock), or a sale in doubt abandoned:
        the next try is a new sale."""
        self.idempotency_key = new_key()
        self.in_doubt = None


def new_key() -> str:
    return secrets.token_urlsafe(16)


def short_line(name: str, stock: int) -> tuple[str, str]:
    """A ticket line the shop cannot sell for want of stock: what is wrong, lowercase (to
    follow a colon), and what the clerk does about it."""
    if stock <= 0:
        return f"{name} is sold out", "remove its line (x)"
    return f"only {stock} of {name} left", "lower its line (-) or remove it (x)"
