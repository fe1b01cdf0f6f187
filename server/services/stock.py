"""The one path every stock change takes: a conditional update and its movement row."""

from __future__ import annotations

import peewee as pw

from server import sql
from server.events import StockChange
from server.pg_events import announce_stock
from server.services.catalog import not_found


class ShortOfStock(Exception):
    """The change would take stock below zero; nothing was written."""

    def __init__(self, product_id: int, requested: int, available: int) -> None:
        super().__init__(product_id, requested, available)
        self.product_id = product_id
        self.requested = requested
        self.available = available


def move_stock(
    db: pw.Database,
    product_id: int,
    delta: int,
    kind: str,
    *,
    order_id: int | None = None,
    user_id: int | None = None,
    reason: str | None = None,
    now: str,
) -> StockChange:
    """Change a product's stock by `delta` and record the movement, in the caller's transaction.

    The update is conditional (`stock + delta >= 0`), so on every database and with any
    number of servers two buyers can never take the same unit: the loser's update matches
    no row and raises `ShortOfStock`. `now` is the job's `sql.now()`.
    """
    row = sql.one(
        db,
        "UPDATE products SET stock = stock + ?, version = version + 1, updated_at = ? "
        "WHERE id = ? AND stock + ? >= 0 RETURNING stock, version",
        (delta, now, product_id, delta),
    )
    if row is None:
        current = sql.one(db, "SELECT stock FROM products WHERE id = ?", (product_id,))
        if current is None:
            raise not_found("product", product_id)
        raise ShortOfStock(product_id, -delta, current[0])
    stock, version = row
    sql.execute(
        db,
        "INSERT INTO stock_movements (product_id, kind, delta, stock_after, order_id, user_id, "
        "reason, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (product_id, kind, delta, stock, order_id, user_id, reason, now),
    )
    change = StockChange(product_id, stock, version)
    announce_stock(db, change)
    return change
