"""Stock received and corrected by staff: `clerk.restock` and `clerk.adjust`.

Both take the one stock path (`move_stock`: the conditional update, its movement row with
the reason and the user, and on PostgreSQL the announcement to other servers), are audited
in the same transaction, and may carry an `idempotency_key`: the same key and arguments
give back the first result and change nothing (`server.idempotency`).
"""

from __future__ import annotations

from typing import Any

import peewee as pw

from db.audit_entry import target_of
from protocol.ops import Op
from server import idempotency, sql
from server.audit import audit
from server.dbexec import Executor
from server.dispatch import Call
from server.events import EventHub, StockChange
from server.services.cart import out_of_stock
from server.services.stock import ShortOfStock, move_stock
from server.wire import PRODUCT_COLUMNS, product
from server.write_jobs import write_job

KINDS: dict[str, str] = {Op.CLERK_RESTOCK: "restock", Op.CLERK_ADJUST: "adjustment"}


class InventoryService:
    def __init__(self, dbx: Executor, hub: EventHub) -> None:
        self.dbx = dbx
        self.hub = hub

    async def restock(self, call: Call) -> dict[str, Any]:
        return await self._change(call, call.args["qty"])

    async def adjust(self, call: Call) -> dict[str, Any]:
        return await self._change(call, call.args["delta"])

    async def _change(self, call: Call, delta: int) -> dict[str, Any]:
        """Move the stock, then (after the commit) tell the subscribers: the product."""
        args = call.args
        key = args.get(idempotency.KEY_ARG)
        changed, changes = await self.dbx.write(
            change_stock,
            call.identity.user_id,
            call.op,
            args["product_id"],
            delta,
            args["reason"],
            key,
            idempotency.fingerprint(call.op, args),
        )
        self.hub.publish_stock(changes)
        return changed


@write_job
def change_stock(
    db: pw.Database,
    user_id: int,
    op: str,
    product_id: int,
    delta: int,
    reason: str,
    key: str | None,
    print_: str,
) -> tuple[dict[str, Any], list[StockChange]]:
    """Restock or adjust (`op`) a product by `delta`, audited; once per key if one is given.
    Returns the product and the stock changes to publish (none for a repeat)."""
    now = sql.now()

    def apply() -> dict[str, Any]:
        try:
            move_stock(db, product_id, delta, KINDS[op], user_id=user_id, reason=reason, now=now)
        except ShortOfStock as short:
            raise out_of_stock(product_id, -delta, short.available) from None
        (row,) = sql.rows(db, f"SELECT {PRODUCT_COLUMNS} FROM products WHERE id = ?", (product_id,))
        found = product(row)
        details = {"delta": delta, "reason": reason, "stock": found["stock"]}
        audit(db, user_id, op, target_of("product", product_id), details, now)
        return found

    changed, applied = idempotency.once(db, user_id, key, print_, now, apply)
    changes = [StockChange(product_id, changed["stock"], changed["version"])] if applied else []
    return changed, changes
