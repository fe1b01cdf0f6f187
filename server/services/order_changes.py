"""The write jobs that change an order after its checkout: a cancel (its customer's or
staff's) and staff moving it on (shipped, delivered). A refund is `server.services.refund`."""

from __future__ import annotations

from typing import Any

import peewee as pw

from db.audit_entry import target_of
from protocol.errors import InvalidState
from protocol.ops import Op
from protocol.rules import STAFF_ROLES, OrderStatus
from server import sql
from server.audit import audit
from server.pg_events import announce_order
from server.services.order_jobs import (
    OrderAndStock,
    lock_order,
    mark_payment_refunded,
    release_stock,
    set_status,
)
from server.services.order_queries import find_order, read_order, visible
from server.services.order_states import check_transition
from server.write_jobs import StockLocks, locks_stock, write_job


@write_job
@locks_stock(lambda order_id, *_: StockLocks(orders=(order_id,)))
def cancel_order(db: pw.Database, order_id: int, user_id: int, role: str) -> OrderAndStock:
    """Cancel a paid (or later) order of `user_id`'s (any, for staff) and give its stock back;
    audited when staff cancel it."""
    now = sql.now()
    lock_order(db, order_id, now)  # a refund of it running meanwhile: wait, then see its lines
    order = visible(read_order(db, order_id), order_id, user_id, role)
    if order["status"] == OrderStatus.PENDING:  # its checkout is still running: it decides
        raise InvalidState(
            f"order {order_id} is still being paid for: wait for its outcome",
            {"status": OrderStatus.PENDING, "reason": "payment_in_progress"},
        )
    check_transition(order_id, order["status"], OrderStatus.CANCELLED)
    changes = release_stock(db, order_id, "cancel", user_id, now)
    reason = "staff" if role in STAFF_ROLES else "customer"
    set_status(db, order_id, order["status"], OrderStatus.CANCELLED, now, cancel_reason=reason)
    if role in STAFF_ROLES:
        details = {"from": order["status"], "customer_id": order["customer_id"]}
        audit(db, user_id, Op.ORDER_CANCEL, target_of("order", order_id), details, now)
    announce_order(db, order_id)
    mark_payment_refunded(db, order_id, now)
    return find_order(db, order_id), changes


@write_job
def advance_order(
    db: pw.Database, order_id: int, target: str, user_id: int, tracking: str | None = None
) -> dict[str, Any]:
    """Move an order on (shipped, delivered) as the status table allows, audited as done by
    `user_id`; a shipment's tracking reference, if given, is kept with the order."""
    order = find_order(db, order_id)
    extra = {} if tracking is None else {"tracking_ref": tracking}
    now = sql.now()
    set_status(db, order_id, order["status"], target, now, channel=order["channel"], **extra)
    op = Op.ORDER_SHIP if target == OrderStatus.SHIPPED else Op.ORDER_DELIVER
    audit(db, user_id, op, target_of("order", order_id), {"from": order["status"], **extra}, now)
    announce_order(db, order_id)
    return find_order(db, order_id)
