"""Reading orders: one order as clients see it, who may see it, a page of orders."""

from __future__ import annotations

from typing import Any

import peewee as pw

from protocol.rules import STAFF_ROLES
from server import sql
from server.cursors import Cursors
from server.services.catalog import not_found
from server.wire import utc

ORDER_COLUMNS = (
    "o.id, o.status, o.channel, o.customer_id, u.username, o.total, o.currency, o.created_at, "
    "o.updated_at, o.cancel_reason, o.tracking_ref, o.receipt, o.offline_at"
)
ORDER_FROM = "orders o LEFT JOIN users u ON u.id = o.customer_id"  # the owner's name with it
LINE_FIELDS = ("product_id", "sku", "name", "qty", "unit_price", "line_total", "refunded_qty")
PAYMENT_FIELDS = ("method", "provider", "reference", "status")
Order = dict[str, Any]  # an order as clients see it (PROTOCOL.md section 11.6)


def order_map(
    row: tuple[Any, ...], lines: list[dict[str, Any]], payment: dict[str, Any] | None
) -> dict[str, Any]:
    """The order as clients see it, from its row as `ORDER_COLUMNS` selects it."""
    (
        order_id,
        status,
        channel,
        customer_id,
        customer_name,
        total,
        currency,
        created,
        updated,
        reason,
        tracking,
        receipt,
        offline_at,
    ) = row
    return {
        "id": order_id,
        "status": status,
        "channel": channel,
        "customer_id": customer_id,
        "customer_name": customer_name,
        "lines": lines,
        "total": total,
        "currency": currency,
        "created_at": utc(created),
        "updated_at": utc(updated),
        "cancel_reason": reason,
        "tracking": tracking,
        "payment": payment,
        "receipt": receipt,
        "offline_at": utc(offline_at),
    }


def read_order(db: pw.Database, order_id: int) -> dict[str, Any] | None:
    """The order as clients see it, or None if there is none with this id."""
    row = sql.one(db, f"SELECT {ORDER_COLUMNS} FROM {ORDER_FROM} WHERE o.id = ?", (order_id,))
    if row is None:
        return None
    return order_map(row, _lines(db, order_id), _payment(db, order_id))


def find_order(db: pw.Database, order_id: int) -> dict[str, Any]:
    """The order as clients see it; `not_found` if there is none."""
    order = read_order(db, order_id)
    if order is None:
        raise not_found("order", order_id)
    return order


def _lines(db: pw.Database, order_id: int) -> list[dict[str, Any]]:
    found = sql.rows(
        db,
        f"SELECT {', '.join(LINE_FIELDS)} FROM order_lines WHERE order_id = ? ORDER BY id",
        (order_id,),
    )
    return [dict(zip(LINE_FIELDS, line, strict=True)) for line in found]


def _payment(db: pw.Database, order_id: int) -> dict[str, Any] | None:
    """The order's latest payment."""
    found = sql.one(
        db,
        f"SELECT {', '.join(PAYMENT_FIELDS)} FROM payments WHERE order_id = ? "
        "ORDER BY id DESC LIMIT 1",
        (order_id,),
    )
    return None if found is None else dict(zip(PAYMENT_FIELDS, found, strict=True))


def visible(order: dict[str, Any] | None, order_id: int, user_id: int, role: str) -> dict[str, Any]:
    """The order if this user may see it; another customer's order does not exist."""
    if order is None or (role not in STAFF_ROLES and order["customer_id"] != user_id):
        raise not_found("order", order_id)
    return order


def pending_orders(
    db: pw.Database, updated_before: str | None, after_id: int, limit: int
) -> list[int]:
    """Up to `limit` orders waiting for their payment's outcome, in id order after
    `after_id`, not updated since `updated_before` (a `sql.now()`-style timestamp; None:
    however recently)."""
    where, params = "status = 'pending' AND id > ?", list[Any]([after_id])
    if updated_before is not None:
        where = f"{where} AND updated_at < ?"
        params.append(updated_before)
    found = sql.rows(
        db, f"SELECT id FROM orders WHERE {where} ORDER BY id LIMIT ?", (*params, limit)
    )
    return [order_id for (order_id,) in found]


def order_page(
    db: pw.Database, customer_id: int | None, status: str | None, before: int | None, limit: int
) -> list[dict[str, Any]]:
    """Up to `limit` orders, newest first, older than the order `before` (if given), of one
    customer (if given), in one status (if given)."""
    where, params = [], []
    for condition, value in (
        ("customer_id = ?", customer_id),
        ("status = ?", status),
        ("id < ?", before),
    ):
        if value is not None:
            where.append(condition)
            params.append(value)
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    ids = sql.rows(db, f"SELECT id FROM orders {clause} ORDER BY id DESC LIMIT ?", (*params, limit))
    return [find_order(db, order_id) for (order_id,) in ids]


def waiting_orders(db: pw.Database, after: int, limit: int) -> list[dict[str, Any]]:
    """Up to `limit` orders waiting for staff (online and paid), oldest first, after the
    order `after` (0: from the first)."""
    ids = sql.rows(
        db,
        "SELECT id FROM orders WHERE status = 'paid' AND channel = 'online' AND id > ? "
        "ORDER BY id LIMIT ?",
        (after, limit),
    )
    return [find_order(db, order_id) for (order_id,) in ids]


def id_page(
    found: list[dict[str, Any]], limit: int, scope: str, cursors: Cursors
) -> dict[str, Any]:
    """The page of a listing by order id, from up to `limit + 1` orders read (one more than
    the page: there is a next page if it came)."""
    items = found[:limit]
    more = len(found) > limit
    return {"items": items, "next_cursor": cursors.encode(scope, items[-1]["id"]) if more else None}
