"""`clerk.refund`: give back some or all of an order's units and the money paid for them.

One write job (`refund_order`) decides and records the whole refund, audited, and under an
idempotency key applied once (`server.idempotency.once`). It takes the order's row first
(`lock_order`), so two refunds of one order, or a refund and a cancel, run one after the
other on every server, and the second sees what the first did: the refund that takes an
order's last unit is the one that sees it, and marks the order `refunded`. Each line's units
are taken by a conditional update (`refunded_qty + n <= qty`), the idiom of `move_stock`:
a refund asking for units another took matches no row and fails `over_refund`, rolling its
whole job back, so no line ever gives back more units, or money, than were paid for (and
`order_lines_refunded_qty_check` stands behind it). The units return to stock through
`move_stock` (kind `refund`); when the clerk says they are not fit to sell (`restock`
false), a `refund` movement and an `adjustment` naming the order are written and the stock
is left as it was (`in_and_out`); the refund and its lines are
written with their amounts, in the refunding clerk's open register if there is one.

The money goes back after the commit: cash from the drawer, card and e-wallet through the
payment provider, asked once, by the call whose job recorded the refund, never while a
transaction is open (a repeat under the key replays the answer and asks nothing; while the
refund has no provider reference it replays `unavailable`, or `in_progress` within the
provider's timeout, never the success stored before the provider was asked). The
provider's confirmation is written afterwards (`refund_paid_back` sets `refunds.reference`),
so a card refund whose reference stays NULL is one the provider failed, or was never asked
because the server stopped: the clerk is told (`unavailable`, `reason` `provider`) and it is
settled by hand, since asking again by itself could pay the customer twice.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import peewee as pw

from db.audit_entry import target_of
from protocol.errors import InvalidState
from protocol.ops import Op
from protocol.rules import OrderStatus
from server import idempotency, sql
from server.audit import audit
from server.clock import Clock
from server.dbexec import Executor
from server.dispatch import Call
from server.events import EventHub
from server.payments import PAYMENT_TIMEOUT_S, PaymentProvider, not_paid_back, pay_back
from server.pg_events import announce_order
from server.services.order_jobs import (
    lock_order,
    mark_payment_refunded,
    repeated_product,
    set_status,
)
from server.services.order_queries import Order, find_order
from server.services.order_states import check_transition
from server.services.register import find_open_register
from server.services.stock import in_and_out, move_stock
from server.wire import utc
from server.write_jobs import StockLocks, locks_stock, write_job

Wanted = list[tuple[int, int | None]]  # (product_id, units or None: all not yet refunded)


class RefundService:
    def __init__(
        self, dbx: Executor, hub: EventHub, provider: PaymentProvider, clock: Clock
    ) -> None:
        self.dbx = dbx
        self.hub = hub
        self.provider = provider
        self.clock = clock

    async def refund(self, call: Call) -> Order:
        """Record the refund, push what it changed, then pay the money back."""
        args, me = call.args, call.identity
        done = await self.dbx.write(
            refund_order,
            args["order_id"],
            me.user_id,
            _wanted(args.get("lines")),
            args["reason"],
            args["restock"],
            args.get("idempotency_key"),
            idempotency.fingerprint(call.op, _as_keyed(args)),
        )
        self.hub.publish_stock(done["changes"])
        if done["push"] is not None:
            self.hub.publish_order(done["push"])
        if done["charge"] is not None:
            await self._pay_back(done["answer"]["refund"], done["charge"])
        answer: Order = done["answer"]
        return answer

    async def _pay_back(self, refund: dict[str, Any], charge: str) -> None:
        """Card and e-wallet money goes back through the provider, once; then its
        confirmation is recorded."""
        await pay_back(
            self.provider,
            self.clock,
            charge,
            refund["amount"],
            _recorded(refund),
            {"refund_id": refund["id"]},
        )
        await self.dbx.write(refund_paid_back, refund["id"], charge)


def _recorded(refund: dict[str, Any]) -> str:
    return f"refund {refund['id']} is recorded (do not refund again)"


def _as_keyed(args: dict[str, Any]) -> dict[str, Any]:
    """The arguments a key's fingerprint holds: `restock` only when false, so a refund
    keyed before that argument was known (or by a client that leaves it out) repeats as
    the same refund."""
    return args if args["restock"] is False else {k: v for k, v in args.items() if k != "restock"}


def _wanted(lines: list[dict[str, Any]] | None) -> Wanted | None:
    """The requested lines as (product_id, qty or None); a product in two lines is refused."""
    if lines is None:
        return None
    seen: set[int] = set()
    for i, line in enumerate(lines):
        if line["product_id"] in seen:
            raise repeated_product(i, line["product_id"])
        seen.add(line["product_id"])
    return [(line["product_id"], line.get("qty")) for line in lines]


# -- the write job


NOTHING_NEW: dict[str, Any] = {"changes": [], "push": None, "charge": None}
NOT_RESTOCKED = "refunded, not back on sale"  # the reason of a refund's `adjustment`


@write_job
@locks_stock(lambda order_id, *_: StockLocks(orders=(order_id,)))
def refund_order(
    db: pw.Database,
    order_id: int,
    user_id: int,
    wanted: Wanted | None,
    reason: str,
    restock: bool,
    key: str | None,
    print_: str,
) -> dict[str, Any]:
    """Refund `wanted` of the order (None: every unit not yet refunded), as `user_id`, once
    per idempotency key if there is one; `restock` False: the units are not put back on
    sale.

    Returns `{"answer", "changes", "push", "charge"}`: the order with its `refund` as the
    client gets it, the stock moved, the order to push (its owner sees every refund, also
    one that leaves its status), and the provider's charge to pay back through (None for
    cash). A repeat under the key returns the first answer and nothing else to do."""
    now = sql.now()
    done: dict[str, Any] = {}

    def apply() -> dict[str, Any]:
        done.update(_refund(db, order_id, user_id, wanted, reason, restock, now))
        return done["answer"]

    answer, applied = idempotency.once(db, user_id, key, print_, now, apply)
    if not applied:
        _check_paid_back(db, answer["refund"], now)
        return {"answer": answer, **NOTHING_NEW}
    return done


def _check_paid_back(db: pw.Database, refund: dict[str, Any], now: str) -> None:
    """A repeat under the key gets the first call's answer, but the stored one is the
    success written before the provider was asked: a card or e-wallet refund still without
    the provider's confirmation is `unavailable`, as the first call answered, or `conflict`
    `in_progress` while the first call may still be waiting for the provider."""
    if refund["method"] == "cash":
        return
    row = sql.one(db, "SELECT reference, created_at FROM refunds WHERE id = ?", (refund["id"],))
    assert row is not None, "a refund stored under a key was recorded with it"
    if row[0] is not None:
        return
    if utc(now) - utc(row[1]) < timedelta(seconds=PAYMENT_TIMEOUT_S):
        raise idempotency.key_in_progress()
    raise not_paid_back(
        _recorded(refund),
        refund["amount"],
        {"refund_id": refund["id"]},
    )


def _refund(
    db: pw.Database,
    order_id: int,
    user_id: int,
    wanted: Wanted | None,
    reason: str,
    restock: bool,
    now: str,
) -> dict[str, Any]:
    status, channel = lock_order(db, order_id, now)
    check_transition(order_id, status, OrderStatus.REFUNDED, channel)
    changes, amounts = [], []
    for product_id, units in _units(db, order_id, wanted):
        unit_price = _take_units(db, order_id, product_id, units)
        if restock:
            moved = move_stock(
                db,
                product_id,
                units,
                "refund",
                order_id=order_id,
                user_id=user_id,
                now=now,
                reason=reason,
            )
            changes.append(moved)
        else:  # not fit to sell: out again at once, the stock as it was
            not_on_sale = (reason, f"{NOT_RESTOCKED}: {reason}")
            in_and_out(db, product_id, units, order_id, user_id, not_on_sale, now)
        amounts.append((product_id, units, unit_price * units))
    method, charge = _payment(db, order_id)
    refund = _record(db, order_id, user_id, method, reason, amounts, now)
    if _all_refunded(db, order_id):
        set_status(db, order_id, status, OrderStatus.REFUNDED, now)
        mark_payment_refunded(db, order_id, now)
    announce_order(db, order_id)  # a part too: the owner sees the units refunded
    audit(
        db,
        user_id,
        Op.CLERK_REFUND,
        target_of("order", order_id),
        {
            **refund,
            "lines": [[pid, units] for pid, units, _ in amounts],
            "reason": reason,
            **({} if restock else {"restock": False}),
        },
        now,
    )
    order = find_order(db, order_id)
    return {
        "answer": {**order, "refund": refund},
        "changes": changes,
        "push": order,
        "charge": None if method == "cash" else charge,
    }


def _units(db: pw.Database, order_id: int, wanted: Wanted | None) -> list[tuple[int, int]]:
    """(product_id, units) to refund, in product order (as every job takes rows, so two
    jobs never wait for each other's); a line left without `qty` takes what remains."""
    remaining = dict(
        sql.rows(
            db,
            "SELECT product_id, qty - refunded_qty FROM order_lines WHERE order_id = ?",
            (order_id,),
        )
    )
    if wanted is None:
        return sorted((pid, left) for pid, left in remaining.items() if left > 0)
    units = []
    for product_id, qty in sorted(wanted):
        if qty is None:
            qty = remaining.get(product_id, 0)
            if qty == 0:
                raise over_refund(order_id, product_id)
        units.append((product_id, qty))
    return units


def _take_units(db: pw.Database, order_id: int, product_id: int, units: int) -> int:
    """Count `units` of the line as refunded, if that many remain; the line's unit price.

    Conditional, like `move_stock`: of two refunds racing for the same units the second
    matches no row (a product not in the order matches none either)."""
    row = sql.one(
        db,
        "UPDATE order_lines SET refunded_qty = refunded_qty + ? "
        "WHERE order_id = ? AND product_id = ? AND refunded_qty + ? <= qty RETURNING unit_price",
        (units, order_id, product_id, units),
    )
    if row is None:
        raise over_refund(order_id, product_id)
    return row[0]


def over_refund(order_id: int, product_id: int) -> InvalidState:
    return InvalidState(
        f"order {order_id} has fewer units of product {product_id} left to refund: "
        "read the order's refunded_qty",
        {"reason": "over_refund", "product_id": product_id},
    )


def _payment(db: pw.Database, order_id: int) -> tuple[str, str | None]:
    """How the order was paid (its captured payment): the method and the charge's reference."""
    row = sql.one(
        db,
        "SELECT method, reference FROM payments WHERE order_id = ? ORDER BY id DESC LIMIT 1",
        (order_id,),
    )
    assert row is not None, "a paid, shipped, delivered or completed order has a payment"
    return row[0], row[1]


def _all_refunded(db: pw.Database, order_id: int) -> bool:
    left = sql.one(
        db, "SELECT 1 FROM order_lines WHERE order_id = ? AND refunded_qty < qty", (order_id,)
    )
    return left is None


def _record(
    db: pw.Database,
    order_id: int,
    user_id: int,
    method: str,
    reason: str,
    amounts: list[tuple[int, int, int]],
    now: str,
) -> dict[str, Any]:
    """Write the refund and its lines, in the refunding clerk's open register if any."""
    amount = sum(line_amount for _, _, line_amount in amounts)
    register_id = find_open_register(db, user_id)
    refund_id = sql.insert(
        db,
        "INSERT INTO refunds (order_id, user_id, register_id, method, amount, reason, "
        "created_at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
        (order_id, user_id, register_id, method, amount, reason, now),
    )
    for product_id, units, line_amount in amounts:
        sql.execute(
            db,
            "INSERT INTO refund_lines (refund_id, product_id, qty, amount) VALUES (?, ?, ?, ?)",
            (refund_id, product_id, units, line_amount),
        )
    return {"id": refund_id, "amount": amount, "method": method, "register_id": register_id}


@write_job
def refund_paid_back(db: pw.Database, refund_id: int, charge: str) -> None:
    """The provider confirmed paying the refund back against `charge`: until this is
    written, a card or e-wallet refund's `reference` is NULL, which is how one whose
    provider call failed, or never happened (the server stopped), is found."""
    sql.execute(db, "UPDATE refunds SET reference = ? WHERE id = ?", (charge, refund_id))
