"""Point of sale: `clerk.sale`, checkout's steps for a clerk at an open register.

One write job (`begin_sale`) claims the clerk's key, takes the stock and writes the order,
as `begin_checkout` does for a cart. Cash needs no provider, so a cash sale is completed in
that same transaction; a card or e-wallet sale is then charged and marked `completed` or
declined by checkout's own steps (`server.services.checkout.PaymentSteps`), and a retry
while it runs here waits for it as a checkout's does (`OneRunPerKey`).
"""

from __future__ import annotations

from typing import Any

import peewee as pw
from twisted.internet.defer import Deferred

from protocol.errors import BadRequest, PaymentDeclined
from protocol.ops import Op
from protocol.rules import OrderStatus
from server import sql
from server.audit import audit, target_of
from server.dbexec import DatabaseExecutor
from server.dispatch import Call
from server.events import EventHub
from server.idempotency import fingerprint
from server.services.catalog import not_found
from server.services.checkout import Checkouts
from server.services.order_jobs import (
    Purchase,
    paid_order,
    publish,
    record_payment,
    repeated_product,
    stored_order,
    write_order,
)
from server.services.order_queries import Order
from server.services.register import open_register_id
from server.write_jobs import write_job

PRODUCT = "SELECT id, sku, name, price, stock, archived, currency FROM products WHERE "


class SaleService:
    def __init__(
        self, dbx: DatabaseExecutor, hub: EventHub, checkouts: Checkouts, currency: str
    ) -> None:
        self.dbx = dbx
        self.hub = hub
        self.runs = checkouts.runs
        self.payments = checkouts.payments
        self.provider = checkouts.provider.name
        self.currency = currency

    def sale(self, call: Call) -> Deferred[Order]:
        """Ring up a sale; a retry with the same key while it runs here waits for it."""
        payment = call.args["payment"]
        if payment["method"] != "cash" and "token" not in payment:
            raise BadRequest(
                f"a {payment['method']} payment needs its token",
                {"field": "payment.token", "rule": "required"},
            )
        print_ = fingerprint(call.op, call.args)
        slot = (call.identity.user_id, call.args["idempotency_key"])
        return self.runs.run(slot, print_, lambda: self._sale(call, print_))

    async def _sale(self, call: Call, print_: str) -> Order:
        clerk_id, args = call.identity.user_id, call.args
        payment = args["payment"]
        begun = await self.dbx.write(
            begin_sale,
            clerk_id,
            args["idempotency_key"],
            print_,
            args["lines"],
            payment["method"],
            payment.get("tendered"),
            self.currency,
            self.provider,
        )
        order = begun["order"]
        if begun["existing"]:
            return order
        publish(self.hub, order, begun["changes"])
        if order["status"] == OrderStatus.COMPLETED:  # cash
            return order
        return await self.payments.pay(order, payment, clerk_id, OrderStatus.COMPLETED)


@write_job
def begin_sale(
    db: pw.Database,
    clerk_id: int,
    key: str,
    print_: str,
    lines: list[dict[str, Any]],
    method: str,
    tendered: int | None,
    currency: str,
    provider: str,
) -> dict[str, Any]:
    """Claim the key, take the stock and write the order: `pending` for a card or e-wallet
    (to be charged), `completed` with `change_due` for cash. Returns `{"order", "changes",
    "existing"}`; `existing` (nothing written) when the key already names a sale."""
    stored = stored_order(db, clerk_id, key, print_)
    if stored is not None:
        return {"order": stored, "changes": [], "existing": True}
    register_id = open_register_id(db, clerk_id)
    basket = _basket(db, lines)
    total = sum(price * qty for _, _, _, qty, price, *_ in basket)
    cash = method == "cash"
    change_due = (total if tendered is None else tendered) - total
    if cash and change_due < 0:
        raise PaymentDeclined(
            f"{tendered} tendered is less than the total {total}",
            {"reason": "insufficient_cash"},
        )
    purchase = Purchase(
        user_id=clerk_id,
        key=key,
        print_=print_,
        channel="pos",
        customer_id=None,
        clerk_id=clerk_id,
        register_id=register_id,
        method=method,
        provider="cash" if cash else provider,
        currency=currency,
    )
    now = sql.now()
    order, changes = write_order(db, purchase, basket, now)
    details: dict[str, Any] = {"total": total, "method": method}
    if cash:
        answer = {"change_due": change_due}
        when = record_payment(db, order["id"], None, OrderStatus.COMPLETED, answer, now)
        order = {**paid_order(order, when, None, OrderStatus.COMPLETED), **answer}
        details.update(answer)
    audit(db, clerk_id, Op.CLERK_SALE, target_of("order", order["id"]), details, now)
    return {"order": order, "changes": changes, "existing": False}


def _basket(db: pw.Database, lines: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """The products sold, as `CART_LINES` selects a cart's: each line's product by id or
    sku (unknown or archived: `not_found`), none twice (`bad_request` on the later line)."""
    basket, seen = [], set()
    for i, line in enumerate(lines):
        if "product_id" in line:
            ident, row = line["product_id"], sql.one(db, PRODUCT + "id = ?", (line["product_id"],))
        else:
            ident, row = line["sku"], sql.one(db, PRODUCT + "sku = ?", (line["sku"],))
        if row is None or row[5]:
            raise not_found("product", ident)
        pid, sku, name, price, stock, archived, currency = row
        if pid in seen:
            raise repeated_product(i, pid)
        seen.add(pid)
        basket.append((pid, sku, name, line["qty"], price, stock, archived, currency))
    return basket
