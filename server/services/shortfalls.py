"""Shortfalls: units an offline sale sold that the stock did not hold (PROTOCOL.md sections
11.11 and 11.12), recorded by the sale and resolved by a person.

`take_offline_stock` is an offline sale's stock step (in its transaction): each line sold
whole, the units missing recorded as a shortfall. `clerk.shortfall.list` reads the open
ones; `clerk.shortfall.resolve` closes one with a reason and, if the count calls for it, a
stock adjustment, audited and once per idempotency key.
"""

from __future__ import annotations

from typing import Any

import peewee as pw

from db.audit_entry import target_of
from protocol.errors import InvalidState
from protocol.ops import Op
from server import idempotency, sql, wire
from server.audit import audit
from server.dbexec import Executor
from server.dispatch import Call
from server.events import EventHub, StockChange
from server.services.cart import out_of_stock
from server.services.catalog import not_found
from server.services.stock import ShortOfStock, move_stock, sell_offline
from server.write_jobs import write_job

SHORTFALL_COLUMNS = (
    "s.id, s.product_id, p.sku, p.name, p.stock, s.qty, s.order_id, o.receipt, o.clerk_id, "
    "o.offline_at, s.created_at, s.resolved_at, s.resolved_by, s.reason, s.delta"
)
SHORTFALL_FROM = (
    "shortfalls s JOIN products p ON p.id = s.product_id JOIN orders o ON o.id = s.order_id"
)
Shortfall = dict[str, Any]


def take_offline_stock(
    db: pw.Database, basket: list[tuple[Any, ...]], order_id: int, user_id: int, now: str
) -> list[StockChange]:
    """Every line's units, in product order as `_take_stock` takes them, never refused: what
    the stock lacks is written as the line's shortfall. The stock changes to publish."""
    changes = []
    for pid, _, _, qty, *_ in sorted(basket):
        change, short = sell_offline(db, pid, qty, order_id, user_id, now)
        if change is not None:
            changes.append(change)
        if short:
            sql.execute(
                db,
                "INSERT INTO shortfalls (product_id, order_id, qty, created_at) "
                "VALUES (?, ?, ?, ?)",
                (pid, order_id, short, now),
            )
    return changes


def order_shortfalls(db: pw.Database, order_id: int) -> list[dict[str, int]]:
    """The shortfalls an order's sale recorded, as its audit entry names them."""
    found = sql.rows(
        db, "SELECT id, product_id, qty FROM shortfalls WHERE order_id = ? ORDER BY id", (order_id,)
    )
    return [{"id": sid, "product_id": pid, "qty": qty} for sid, pid, qty in found]


class ShortfallService:
    def __init__(self, dbx: Executor, hub: EventHub) -> None:
        self.dbx = dbx
        self.hub = hub

    async def list(self, call: Call) -> dict[str, Any]:
        product_id, limit = call.args.get("product_id"), call.args["limit"]
        return await self.dbx.read(lambda db: open_shortfalls(db, product_id, limit))

    async def resolve(self, call: Call) -> Shortfall:
        """Resolve it, then (after the commit) tell the stock's subscribers."""
        args = call.args
        resolved, changes = await self.dbx.write(
            resolve_shortfall,
            call.identity.user_id,
            args["shortfall_id"],
            args["delta"],
            args["reason"],
            args.get(idempotency.KEY_ARG),
            idempotency.fingerprint(call.op, args),
        )
        self.hub.publish_stock(changes)
        return resolved


def open_shortfalls(db: pw.Database, product_id: int | None, limit: int) -> dict[str, Any]:
    """The oldest `limit` open shortfalls (of one product, if given) and how many are open."""
    where, params = "s.resolved_at IS NULL", list[Any]()
    if product_id is not None:
        where, params = f"{where} AND s.product_id = ?", [product_id]
    found = sql.rows(
        db,
        f"SELECT {SHORTFALL_COLUMNS} FROM {SHORTFALL_FROM} WHERE {where} ORDER BY s.id LIMIT ?",
        (*params, limit),
    )
    (count,) = sql.one(db, f"SELECT COUNT(*) FROM shortfalls s WHERE {where}", params) or (0,)
    return {"items": [shortfall_map(row) for row in found], "open": count}


@write_job
def resolve_shortfall(
    db: pw.Database,
    user_id: int,
    shortfall_id: int,
    delta: int,
    reason: str,
    key: str | None,
    print_: str,
) -> tuple[Shortfall, list[StockChange]]:
    """Mark the shortfall resolved by `user_id` and adjust its product's stock by `delta`
    (if not 0), audited; once per key if one is given. The shortfall and the stock changes
    to publish (none for a repeat)."""
    now = sql.now()
    changes: list[StockChange] = []

    def apply() -> Shortfall:
        row = sql.one(
            db,
            "UPDATE shortfalls SET resolved_at = ?, resolved_by = ?, reason = ?, delta = ? "
            "WHERE id = ? AND resolved_at IS NULL RETURNING product_id, qty",
            (now, user_id, reason, delta, shortfall_id),
        )
        if row is None:
            raise _not_open(db, shortfall_id)
        product_id, qty = row
        if delta:
            try:
                changes.append(
                    move_stock(
                        db, product_id, delta, "adjustment", user_id=user_id, reason=reason, now=now
                    )
                )
            except ShortOfStock as short:
                raise out_of_stock(product_id, -delta, short.available) from None
        resolved = read_shortfall(db, shortfall_id)
        details = {
            "product_id": product_id,
            "qty": qty,
            "delta": delta,
            "reason": reason,
            "stock": resolved["stock"],
        }
        target = target_of("shortfall", shortfall_id)
        audit(db, user_id, Op.CLERK_SHORTFALL_RESOLVE, target, details, now)
        return resolved

    resolved, _ = idempotency.once(db, user_id, key, print_, now, apply)
    return resolved, changes


def _not_open(db: pw.Database, shortfall_id: int) -> Exception:
    """Why the shortfall could not be resolved: there is none, or it is resolved already."""
    if sql.one(db, "SELECT 1 FROM shortfalls WHERE id = ?", (shortfall_id,)) is None:
        return not_found("shortfall", shortfall_id)
    return InvalidState(
        f"shortfall {shortfall_id} is resolved already", {"reason": "already_resolved"}
    )


def read_shortfall(db: pw.Database, shortfall_id: int) -> Shortfall:
    row = sql.one(
        db, f"SELECT {SHORTFALL_COLUMNS} FROM {SHORTFALL_FROM} WHERE s.id = ?", (shortfall_id,)
    )
    if row is None:
        raise not_found("shortfall", shortfall_id)
    return shortfall_map(row)


def shortfall_map(row: tuple[Any, ...]) -> Shortfall:
    """A row selected with `SHORTFALL_COLUMNS` as clients see it (section 11.12)."""
    (sid, pid, sku, name, stock, qty, order_id, receipt, clerk_id, offline_at, created) = row[:11]
    resolved_at, resolved_by, reason, delta = row[11:]
    return {
        "id": sid,
        "product_id": pid,
        "sku": sku,
        "name": name,
        "stock": stock,
        "qty": qty,
        "order_id": order_id,
        "receipt": receipt,
        "clerk_id": clerk_id,
        "offline_at": wire.utc(offline_at),
        "created_at": wire.utc(created),
        "status": "open" if resolved_at is None else "resolved",
        "resolved_at": wire.utc(resolved_at),
        "resolved_by": resolved_by,
        "reason": reason,
        "delta": delta,
    }
