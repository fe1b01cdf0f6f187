"""Stock levels as the client knows them, and how they read on screen.

Stock events are state, not history (PROTOCOL.md 13): keep the highest `version` per
product and ignore anything not newer. A snapshot taken after a reconnect replaces what
was held, since the server is the authority again.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

LOW_STOCK = 5
SOLD_OUT_MARK, LOW_MARK = "✕", "!"  # so the state reads without colour too
NO_LONGER_SOLD = "no longer sold"  # a cart line of an archived product


@dataclass(frozen=True)
class Level:
    stock: int
    version: int


class StockBook:
    def __init__(self) -> None:
        self._levels: dict[int, Level] = {}

    def get(self, product_id: int) -> Level | None:
        return self._levels.get(product_id)

    def stock(self, product_id: int, default: int) -> int:
        level = self._levels.get(product_id)
        return default if level is None else level.stock

    def apply(self, levels: Mapping[int, Level], replace: bool = False) -> dict[int, Level]:
        """Take the levels that are newer (all of them with `replace`); return those whose
        stock changed, for the screens to redraw."""
        changed: dict[int, Level] = {}
        for product_id, level in levels.items():
            held = self._levels.get(product_id)
            if held is not None and not replace and level.version <= held.version:
                continue
            self._levels[product_id] = level
            if held is None or held.stock != level.stock:
                changed[product_id] = level
        return changed

    def lower(self, product_id: int, qty: int) -> None:
        """`qty` units sold here offline: the level held drops (never below 0), at the same
        version, so the server's next level replaces it."""
        held = self._levels.get(product_id)
        if held is not None:
            self._levels[product_id] = Level(max(held.stock - qty, 0), held.version)

    def seed(self, products: Iterable[dict[str, Any]]) -> None:
        """Record the levels that came with listed products, unless newer ones are held."""
        self.apply({p["id"]: Level(p["stock"], p["version"]) for p in products})


def renewed(book: StockBook, levels: Mapping[int, Level]) -> list[int]:
    """The products whose `version` moved on while their stock stayed: something else of
    them changed (archived or restored, PROTOCOL.md 13), and a screen showing them reads
    them again. Call before `book.apply` takes the levels."""
    found = []
    for product_id, level in levels.items():
        held = book.get(product_id)
        if held is not None and level.version > held.version and level.stock == held.stock:
            found.append(product_id)
    return found


def levels_from_snapshot(snapshot: Iterable[dict[str, Any]]) -> dict[int, Level]:
    return {row["product_id"]: Level(row["stock"], row["version"]) for row in snapshot}


def availability(stock: int) -> str:
    """How a stock level reads for a shopper."""
    if stock <= 0:
        return "sold out"
    if stock <= LOW_STOCK:
        return f"only {stock} left"
    return f"{stock} in stock"


def stock_text(stock: int, compact: bool = False) -> str:
    """`availability` with a mark for the states that matter: "✕ sold out", "! only 3
    left"; `compact` (a narrow column): "! 3 left", and a plain number when in stock."""
    if stock <= 0:
        return f"{SOLD_OUT_MARK} {availability(stock)}"
    if stock <= LOW_STOCK:
        return f"{LOW_MARK} {stock} left" if compact else f"{LOW_MARK} {availability(stock)}"
    return str(stock) if compact else availability(stock)


def shortfall(qty: int, stock: int, archived: bool = False) -> str:
    """What is wrong with a cart line of `qty` units when `stock` are left ("" if nothing)."""
    if archived:
        return NO_LONGER_SOLD
    if stock <= 0:
        return "sold out"
    if qty > stock:
        return f"only {stock} left"
    return ""
