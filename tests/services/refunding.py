"""What the refund tests share: a refund asked as a clerk would, and what to read back."""

from __future__ import annotations

from typing import Any

import peewee as pw
from twisted.internet.defer import Deferred

from db.conservation import check_conservation
from db.money import check_money
from server import sql
from server.dispatch import Identity
from server.services.refund import RefundService
from tests.services.inline_db import ask

Order = dict[str, Any]


def refund(refunds: RefundService, who: Identity, order_id: int, **args: Any) -> Deferred[Order]:
    return ask(refunds.refund, who, "clerk.refund", order_id=order_id, reason="rusak", **args)


def refunded(order: Order) -> dict[int, int]:
    return {line["product_id"]: line["refunded_qty"] for line in order["lines"]}


def refund_rows(db: pw.Database) -> list[tuple[Any, ...]]:
    return sql.rows(
        db, "SELECT order_id, user_id, register_id, method, amount, reference FROM refunds"
    )


def books_balance(db: pw.Database) -> None:
    assert check_conservation(db) == [] and check_money(db) == []
