"""The paths of stock changes: `move_stock` (a conditional update and its movement row) for
every change of the stock; `in_and_out` for units that come back and go out at once, which
change no stock; `sell_offline` for a sale that may find too little."""

from __future__ import annotations

import peewee as pw

from server import sql
from server.dbexec import is_postgres
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
    record_movement(db, product_id, kind, delta, stock, order_id, user_id, reason, now)
    change = StockChange(product_id, stock, version)
    announce_stock(db, change)
    return change


def record_movement(
    db: pw.Database,
    product_id: int,
    kind: str,
    delta: int,
    stock_after: int,
    order_id: int | None,
    user_id: int | None,
    reason: str | None,
    now: str,
) -> None:
    """The movement row of a stock change, sent with the job's next statement (`sql.later`)."""
    sql.later(
        db,
        "INSERT INTO stock_movements (product_id, kind, delta, stock_after, order_id, user_id, "
        "reason, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (product_id, kind, delta, stock_after, order_id, user_id, reason, now),
    )


def locked_stock(db: pw.Database, product_id: int) -> int:
    """The product's stock, its row locked for the rest of the transaction on PostgreSQL
    (SQLite has one writer), so a change running meanwhile on another server comes first
    or after, never in between; `not_found` if there is no such product."""
    lock = " FOR UPDATE" if is_postgres(db) else ""
    row = sql.one(db, f"SELECT stock FROM products WHERE id = ?{lock}", (product_id,))
    if row is None:
        raise not_found("product", product_id)
    return int(row[0])


def in_and_out(
    db: pw.Database,
    product_id: int,
    units: int,
    order_id: int,
    user_id: int,
    reasons: tuple[str, str],
    now: str,
) -> None:
    """Units that come back and go out again at once (refunded, not fit to sell): a
    `refund` movement and an `adjustment`, each with its reason, and the product's row left
    as it is, so its stock and `version` do not move and no client has news to read. The
    row is locked first on PostgreSQL, so the movements' `stock_after` follow any other
    change of it in order."""
    stock = locked_stock(db, product_id)
    came, went = reasons
    record_movement(db, product_id, "refund", units, stock + units, order_id, user_id, came, now)
    record_movement(db, product_id, "adjustment", -units, stock, order_id, user_id, went, now)


def sell_offline(
    db: pw.Database, product_id: int, qty: int, order_id: int, user_id: int, now: str
) -> tuple[StockChange | None, int]:
    """Sell `qty` units of a product for an offline sale, in the caller's transaction: the
    units the stock holds are taken, and what it lacks is a shortfall. The stock change (None
    if the stock was 0 already) and the units short.

    The books say what happened: a `shortfall` movement adds the units that must have been
    there unrecorded, then the `sale` movement takes every unit sold, as for any sale, so
    stock = initial stock + movements still holds and stock ends at 0, never below. The
    product's row is locked first (`FOR UPDATE` on PostgreSQL; SQLite has one writer), so
    a sale running meanwhile on another server is counted before this one reads the stock.
    """
    stock = locked_stock(db, product_id)
    short = max(0, qty - stock)
    if short == 0:
        return move_stock(
            db, product_id, -qty, "sale", order_id=order_id, user_id=user_id, now=now
        ), 0
    movements = (("shortfall", short, stock + short), ("sale", -qty, 0))
    for kind, delta, after in movements:
        record_movement(db, product_id, kind, delta, after, order_id, user_id, None, now)
    if stock == 0:
        return None, short
    version = sql.one(
        db,
        "UPDATE products SET stock = 0, version = version + 1, updated_at = ? WHERE id = ? "
        "RETURNING version",
        (now, product_id),
    )[0]  # type: ignore[index]  # the row is locked: it is there
    change = StockChange(product_id, 0, version)
    announce_stock(db, change)
    return change, short
