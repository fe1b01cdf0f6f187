"""Point of sale: `clerk.sale`, checkout's steps for a clerk at an open register.

One write job (`begin_sale`) claims the clerk's key, takes the stock and writes the order,
as `begin_checkout` does for a cart. Cash needs no provider, so a cash sale is completed in
that same transaction; a card or e-wallet sale is then charged and marked `completed` or
declined by checkout's own steps (`server.services.checkout.PaymentSteps`), and a retry
while it runs here waits for it as a checkout's does (`OneRunPerKey`).

A sale the till rang up offline (`offline_at`, cash only: `server.services.offline`) takes
the same job, with three differences: its register session is the one open when it was
rung up, its stock is never refused (`take_offline_stock` records a shortfall instead),
and its lines may carry the price the till charged.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import peewee as pw
from twisted.internet.defer import Deferred

from db.audit_entry import target_of
from protocol.errors import BadRequest, Conflict, PaymentDeclined
from protocol.ops import Op
from protocol.rules import OrderStatus
from server import sql
from server.audit import audit
from server.dbexec import Executor
from server.dispatch import Call
from server.events import EventHub
from server.idempotency import fingerprint
from server.services.catalog import not_found
from server.services.checkout import Checkouts
from server.services.offline import check_offline
from server.services.order_jobs import (
    Purchase,
    check_total,
    publish,
    repeated_product,
    stored_order,
    write_order,
)
from server.services.order_queries import Order
from server.services.register import offline_register, open_register_id
from server.services.shortfalls import order_shortfalls
from server.write_jobs import StockLocks, locks_stock, write_job

PRODUCT = "SELECT id, sku, name, price, stock, archived, currency FROM products WHERE "


class SaleService:
    def __init__(self, dbx: Executor, hub: EventHub, checkouts: Checkouts, currency: str) -> None:
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
        offline_at = check_offline(call.args, datetime.now(UTC))
        print_ = fingerprint(call.op, call.args)
        slot = (call.identity.user_id, call.args["idempotency_key"])
        return self.runs.run(
            slot, print_, lambda: Deferred.fromCoroutine(self._sale(call, print_, offline_at))
        )

    async def _sale(self, call: Call, print_: str, offline_at: str | None) -> Order:
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
            args.get("receipt"),
            offline_at,
            args.get("expected_total"),
        )
        order = begun["order"]
        if begun["existing"]:
            return order
        publish(self.hub, order, begun["changes"])
        if order["status"] == OrderStatus.COMPLETED:  # cash
            return order
        return await self.payments.pay(order, payment, clerk_id, OrderStatus.COMPLETED)


def sale_stock(clerk_id: int, key: str, print_: str, lines: list[Any], *_: Any) -> StockLocks:
    """The products `begin_sale` takes stock of: those its lines name, by id or by sku."""
    return StockLocks(
        products=tuple(line["product_id"] for line in lines if "product_id" in line),
        skus=tuple(line["sku"] for line in lines if "product_id" not in line),
    )


@write_job
@locks_stock(sale_stock)
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
    receipt: str | None = None,
    offline_at: str | None = None,
    expected_total: int | None = None,
) -> dict[str, Any]:
    """Claim the key, take the stock and write the order: `pending` for a card or e-wallet
    (to be charged), `completed` with `change_due` for cash; `conflict` if the lines cost
    other than `expected_total` (when given). Returns `{"order", "changes", "existing"}`;
    `existing` (nothing written) when the key already names a sale."""
    stored = stored_order(db, clerk_id, key, print_)
    if stored is not None:
        return {"order": stored, "changes": [], "existing": True}
    details: dict[str, Any] = {}
    register_id: int | None
    if offline_at is None:
        register_id = open_register_id(db, clerk_id)
    else:
        register_id, after_close = offline_register(db, clerk_id, offline_at)
        details = {"register_id": register_id, "after_close": after_close}
    basket = _basket(db, lines, offline=offline_at is not None)
    if expected_total is not None:
        check_total(basket, expected_total)
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
        receipt=receipt,
        offline_at=offline_at,
        settled=OrderStatus.COMPLETED if cash else None,
        answer={"change_due": change_due} if cash else None,
    )
    now = sql.now()
    written = _write_sale(db, purchase, basket, now)
    if "existing" in written:
        return written
    order, changes = written["order"], written["changes"]
    details = {"total": total, "method": method, **_sale_details(db, order, details)}
    if "receipt_clash" in written:
        details["receipt_clash"] = written["receipt_clash"]
    if cash:  # written completed, its key's answer kept (`Purchase.settled`)
        order = {**order, "change_due": change_due}
        details["change_due"] = change_due
    audit(db, clerk_id, Op.CLERK_SALE, target_of("order", order["id"]), details, now)
    return {"order": order, "changes": changes, "existing": False}


def _write_sale(
    db: pw.Database, purchase: Purchase, basket: list[tuple[Any, ...]], now: str
) -> dict[str, Any]:
    """`write_order`, as `{"order", "changes"}`. A sale with a receipt is written in a
    savepoint: when another order holds the receipt (its unique index), that is either
    this very sale committed meanwhile by another server (same key: answered as a repeat,
    `existing`) or another sale: `conflict` on `receipt`, but for an offline sale, which
    is recorded without a receipt (`receipt_clash`: the number it came with)."""
    if purchase.receipt is None:
        order, changes = write_order(db, purchase, basket, now)
        return {"order": order, "changes": changes}
    try:
        with db.atomic():
            order, changes = write_order(db, purchase, basket, now)
            return {"order": order, "changes": changes}
    except pw.IntegrityError:
        if sql.one(db, "SELECT 1 FROM orders WHERE receipt = ?", (purchase.receipt,)) is None:
            raise
    stored = stored_order(db, purchase.user_id, purchase.key, purchase.print_)
    if stored is not None:
        return {"order": stored, "changes": [], "existing": True}
    if purchase.offline_at is not None:
        # A fact, not a request: the goods have left, so the sale is recorded all the same,
        # without the number another sale holds; its audit entry keeps it for a person.
        order, changes = write_order(db, replace(purchase, receipt=None), basket, now)
        return {"order": order, "changes": changes, "receipt_clash": purchase.receipt}
    raise Conflict(
        f"receipt {purchase.receipt} is another sale's: the till's numbering went wrong",
        {"field": "receipt"},
    )


def _sale_details(db: pw.Database, order: Order, register: dict[str, Any]) -> dict[str, Any]:
    """What the audit entry adds for a receipt and for an offline sale (`register`: its
    register session), whose shortfalls it flags."""
    details: dict[str, Any] = {}
    if order["receipt"] is not None:
        details["receipt"] = order["receipt"]
    if order["offline_at"] is not None:
        details["offline_at"] = order["offline_at"].isoformat()
        details.update(register)
        details["shortfalls"] = order_shortfalls(db, order["id"])
    return details


def _basket(
    db: pw.Database, lines: list[dict[str, Any]], *, offline: bool = False
) -> list[tuple[Any, ...]]:
    """The products sold, as `CART_LINES` selects a cart's: each line's product by id or
    sku (unknown, or archived unless sold `offline`: `not_found`), none twice (`bad_request`
    on the later line), at the line's `unit_price` if it gives one, else the current one."""
    basket, seen = [], set()
    for i, line in enumerate(lines):
        if "product_id" in line:
            ident, row = line["product_id"], sql.one(db, PRODUCT + "id = ?", (line["product_id"],))
        else:
            ident, row = line["sku"], sql.one(db, PRODUCT + "sku = ?", (line["sku"],))
        if row is None or (row[5] and not offline):
            raise not_found("product", ident)
        pid, sku, name, price, stock, archived, currency = row
        if pid in seen:
            raise repeated_product(i, pid)
        seen.add(pid)
        price = line.get("unit_price", price)
        basket.append((pid, sku, name, line["qty"], price, stock, archived, currency))
    return basket
