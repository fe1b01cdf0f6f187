"""The write jobs of orders (see `server.write_jobs`): each one transaction that changes an
order with its lines, payment, idempotency key and stock together, returning what the
service answers and publishes, as msgpack carries it."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import peewee as pw

from db.audit_entry import target_of
from protocol.errors import BadRequest, Conflict, InvalidState, OutOfStock
from protocol.ops import Op
from protocol.rules import OrderStatus
from server import idempotency, sql, wire
from server.audit import audit
from server.events import EventHub, StockChange
from server.pg_events import announce_order
from server.services.cart import (
    check_line_cost,
    lock_cart_of_order,
    no_longer_sold,
    out_of_stock,
)
from server.services.catalog import not_found
from server.services.order_queries import Order, find_order, order_map
from server.services.order_states import check_transition
from server.services.shortfalls import take_offline_stock
from server.services.stock import ShortOfStock, move_stock
from server.write_jobs import StockLocks, locks_stock, write_job

OrderAndStock = tuple[dict[str, Any], list[StockChange]]
SALE_CANCELLED = f"{Op.CLERK_SALE}.cancelled"  # audited: a till's sale declined or interrupted
Basket = list[tuple[Any, ...]]  # what is bought, as `cart.CART_LINES` selects a cart's lines

# A cart's lines as `cart.CART_LINES` reads them (marked 0 in the ninth column, which orders
# the rows), its checkout's key (marked 1: the fingerprint and response `idempotency.lookup`
# reads, and its order), and the customer's online orders being paid for (marked 2, the id
# last), in one statement: a round trip fewer on PostgreSQL.
CART_AND_KEY = (
    "SELECT p.id, p.sku, p.name, c.qty, p.price, p.stock, p.archived, p.currency, 0, "
    "c.added_at, c.id, NULL, NULL, NULL FROM cart_lines c JOIN products p "
    "ON p.id = c.product_id WHERE c.user_id = ? UNION ALL SELECT NULL, NULL, NULL, NULL, NULL, "
    "NULL, NULL, NULL, 1, NULL, NULL, fingerprint, response, order_id FROM idempotency_keys "
    "WHERE user_id = ? AND key = ? UNION ALL SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL, "
    "NULL, 2, NULL, NULL, NULL, NULL, id FROM orders WHERE status = 'pending' "
    "AND customer_id = ? AND channel = 'online' ORDER BY 9, 10, 11"
)


@dataclass(frozen=True)
class Purchase:
    """Who buys what way: an online checkout, or a sale at a till."""

    user_id: int  # who calls: owns the key, moves the stock
    key: str
    print_: str
    channel: str
    customer_id: int | None
    clerk_id: int | None
    register_id: int | None
    method: str
    provider: str
    currency: str
    receipt: str | None = None
    offline_at: str | None = None  # a sale rung up offline: when, as a timestamp column holds it
    # Settled in the first transaction (cash at a till): the status the order is written
    # with, its payment captured, and what its key's answer adds to the order's id.
    settled: OrderStatus | None = None
    answer: dict[str, Any] | None = None
    claimed: bool = False  # its key claimed already (`idempotency.claim_first`)


# -- checkout: `begin_checkout`, the payment (no transaction open), then one of the two others


@write_job
@locks_stock(lambda user_id, *_: StockLocks(carts=(user_id,)))
def begin_checkout(
    db: pw.Database,
    user_id: int,
    key: str,
    print_: str,
    method: str,
    currency: str,
    provider: str,
    expected_total: int | None = None,
) -> dict[str, Any]:
    """The first checkout transaction: claim the key, take the stock, write the order
    `pending`; `conflict` if the cart costs other than `expected_total` (when given).
    Returns `{"order", "changes", "existing"}`; `existing` is true (and nothing is written)
    when the key already names a paid order.

    The key is claimed if it is free with the statement that reads the cart and the key
    (`idempotency.claim_first`), so the same key racing on another server waits for that
    one's commit and answers as that key does, never `out_of_stock`. A cart its stock, as
    just read, cannot fill is then refused in that one round trip (in a flash sale
    thousands of checkouts end this way); the claim is undone with the job. A key that was
    not free (a retry) answers, as always. Another key's checkout while the customer has an
    online order being paid for is refused (`checkout_pending`): the cart would be bought,
    and charged, twice. The stock is the database's answer (on PostgreSQL, what was
    committed when it was read), never a cached one."""
    now = sql.now()
    idempotency.claim_first(db, user_id, key, print_, now)
    rows = sql.rows(db, CART_AND_KEY, (user_id, user_id, key, user_id))
    found = next((row[11:] for row in rows if row[8] == 1), None)
    if found is not None and not idempotency.own_claim(found[2], found[1]):
        return {
            "order": order_of_key(db, (found[0], found[1]), print_),
            "changes": [],
            "existing": True,
        }
    paying = next((row[13] for row in rows if row[8] == 2), None)
    if paying is not None:
        raise InvalidState(
            f"order {paying} of this cart is still being paid for: wait for its outcome",
            {"reason": "checkout_pending", "order_id": paying},
        )
    basket = [row[:8] for row in rows if row[8] == 0]
    short = shortfall(basket)
    if short is not None:
        raise short
    if not basket:
        raise InvalidState("the cart is empty: add a product first", {"reason": "empty_cart"})
    if expected_total is not None:
        check_total(basket, expected_total)
    purchase = Purchase(
        *(user_id, key, print_, "online", user_id, None, None, method, provider, currency),
        claimed=True,
    )
    order, changes = write_order(db, purchase, basket, now)
    return {"order": order, "changes": changes, "existing": False}


def shortfall(basket: Basket) -> OutOfStock | None:
    """The `out_of_stock` that taking `basket`'s stock would raise (`_take_stock`), from the
    stock its rows were read with; None if it can all be taken."""
    for pid, _, _, qty, _, stock, archived, _ in sorted(basket):
        if archived or stock < qty:
            return no_longer_sold(pid, qty) if archived else out_of_stock(pid, qty, stock)
    return None


def check_total(basket: Basket, expected: int) -> None:
    """`conflict` when `basket` costs other than the `expected` total, the one the buyer was
    shown (a line added in another window, a price changed meanwhile): nothing is bought."""
    total = sum(check_line_cost(pid, qty, price) for pid, _, _, qty, price, *_ in basket)
    if total != expected:
        raise Conflict(
            f"the purchase costs {total} now, not the {expected} expected: show the buyer "
            "the new total, then send it",
            {"field": "expected_total", "reason": "total_changed", "total": total},
        )


def repeated_product(i: int, product_id: int) -> BadRequest:
    """A sale's or refund's line `i` names a product an earlier line named."""
    return BadRequest(
        f"lines[{i}] repeats product {product_id}: give each product in one line",
        {"field": f"lines[{i}]", "rule": "repeats a product"},
    )


# -- the steps of a purchase, online or at a till


def stored_order(db: pw.Database, user_id: int, key: str, print_: str) -> Order | None:
    """The order a key already names, as it is now, with what its answer added (a sale's
    `change_due`); None if the key is free. `conflict` if it was used with other arguments
    or its purchase is still running."""
    stored = idempotency.lookup(db, user_id, key)
    return None if stored is None else order_of_key(db, stored, print_)


def order_of_key(db: pw.Database, stored: idempotency.Stored, print_: str) -> Order:
    """The order a key's `stored` fingerprint and answer name (`stored_order`)."""
    answer = idempotency.replay(stored, print_)
    return {**find_order(db, answer.pop("order_id")), **answer}


def write_order(db: pw.Database, purchase: Purchase, basket: Basket, now: str) -> OrderAndStock:
    """Write the order `pending` with its lines and payment, claim its key and take its stock,
    all or nothing; the order as clients see it, and the stock it moved. A `settled` purchase
    is written as it ends instead (three statements fewer than marking it paid after)."""
    p = purchase
    total = sum(check_line_cost(pid, qty, price) for pid, _, _, qty, price, *_ in basket)
    status = p.settled or OrderStatus.PENDING
    # The owner's name comes back with the id: no statement more on the checkout path.
    order_id, customer_name = sql.execute(
        db,
        "INSERT INTO orders (customer_id, clerk_id, register_id, status, channel, total, "
        "currency, idempotency_key, created_at, updated_at, receipt, offline_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "RETURNING id, (SELECT username FROM users WHERE users.id = orders.customer_id)",
        (
            *(p.customer_id, p.clerk_id, p.register_id, status, p.channel, total, p.currency),
            *(p.key, now, now, p.receipt, p.offline_at),
        ),
    ).fetchone()
    answer = None if p.settled is None else {"order_id": order_id, **(p.answer or {})}
    # A sale's key is claimed before the stock is taken, with its first statement (a
    # checkout's was, with its first read): the same key racing on another server waits for
    # that one's commit and answers in_progress, never out_of_stock.
    try:
        if p.claimed:
            idempotency.name_order(db, p.user_id, p.key, order_id)
        else:
            idempotency.claim_with_next(db, p.user_id, p.key, p.print_, now, order_id, answer)
        if p.offline_at is None:
            changes = _take_stock(db, basket, order_id, p.user_id, now)
        else:
            changes = take_offline_stock(db, basket, order_id, p.user_id, now)
    except pw.IntegrityError as error:
        if idempotency.taken(error):
            raise idempotency.key_in_progress() from None
        raise
    _write_lines(db, order_id, basket)
    captured = p.settled is not None
    payment = _write_payment(db, order_id, p.provider, p.method, total, now, captured)
    announce_order(db, order_id)
    row = (
        order_id,
        status,
        p.channel,
        p.customer_id,
        customer_name,
        total,
        p.currency,
        now,
        now,
        None,
        None,
        p.receipt,
        p.offline_at,
    )
    return order_map(row, [_order_line(line) for line in basket], payment), changes


def _take_stock(
    db: pw.Database, lines: Basket, order_id: int, user_id: int, now: str
) -> list[StockChange]:
    """Every line's units, in product order (as every job takes them, so two jobs never wait
    for each other's rows); the first one short fails the job, which undoes the rest."""
    changes = []
    for pid, _, _, qty, _, _, archived, _ in sorted(lines):
        if archived:
            raise no_longer_sold(pid, qty)
        try:
            changes.append(
                move_stock(db, pid, -qty, "sale", order_id=order_id, user_id=user_id, now=now)
            )
        except ShortOfStock as short:
            raise out_of_stock(pid, qty, short.available) from None
    return changes


def _write_lines(db: pw.Database, order_id: int, lines: Basket) -> None:
    for pid, sku, name, qty, price, *_ in lines:
        sql.later(
            db,
            "INSERT INTO order_lines (order_id, product_id, sku, name, qty, unit_price, "
            "line_total, refunded_qty) VALUES (?, ?, ?, ?, ?, ?, ?, 0)",
            (order_id, pid, sku, name, qty, price, price * qty),
        )


def _write_payment(
    db: pw.Database,
    order_id: int,
    provider: str,
    method: str,
    amount: int,
    now: str,
    captured: bool,
) -> dict[str, Any]:
    """Record the payment about to be asked for, or `captured` already; as clients see it."""
    status = "captured" if captured else "pending"
    sql.later(
        db,
        "INSERT INTO payments (order_id, provider, method, amount, status, created_at, "
        "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (order_id, provider, method, amount, status, now, now),
    )
    return {"method": method, "provider": provider, "reference": None, "status": status}


def _order_line(cart_line: tuple[Any, ...]) -> dict[str, Any]:
    pid, sku, name, qty, price, *_ = cart_line
    return {**wire.line(pid, sku, name, qty, price), "refunded_qty": 0}


@write_job
def mark_paid(db: pw.Database, order_id: int, reference: str, paid: OrderStatus) -> datetime:
    """Mark a pending order `paid` (`completed` for a card or e-wallet sale) and its payment
    captured, empty the bought lines from an online order's cart, and keep the key's answer
    (the order); when."""
    now = sql.now()
    set_status(db, order_id, OrderStatus.PENDING, paid, now)
    sql.later(
        db,
        "UPDATE payments SET status = 'captured', reference = ?, updated_at = ? WHERE order_id = ?",
        (reference, now, order_id),
    )
    if paid == OrderStatus.PAID:
        lock_cart_of_order(db, order_id)
        sql.later(
            db,
            "DELETE FROM cart_lines WHERE user_id = (SELECT customer_id FROM orders WHERE id = ?) "
            "AND product_id IN (SELECT product_id FROM order_lines WHERE order_id = ?)",
            (order_id, order_id),
        )
    idempotency.store_for_order(db, order_id, {"order_id": order_id})
    announce_order(db, order_id)
    return wire.utc(now)


def paid_order(order: Order, when: datetime, reference: str | None, paid: OrderStatus) -> Order:
    """A pending order as `mark_paid` leaves it."""
    payment = {**order["payment"], "status": "captured", "reference": reference}
    return {**order, "status": paid, "updated_at": when, "payment": payment}


@write_job
@locks_stock(lambda order_id, *_: StockLocks(orders=(order_id,)))
def mark_declined(
    db: pw.Database, order_id: int, user_id: int | None, reason: str
) -> OrderAndStock:
    """Give the stock back, cancel the order and free its key for another try. A till's sale
    was audited when it began: `clerk.sale.cancelled` follows its entry, with `reason`, so the
    log does not read as a sale made."""
    now = sql.now()
    changes = release_stock(db, order_id, "cancel", user_id, now)
    set_status(db, order_id, OrderStatus.PENDING, OrderStatus.CANCELLED, now, cancel_reason=reason)
    sql.later(
        db,
        "UPDATE payments SET status = 'declined', updated_at = ? WHERE order_id = ?",
        (now, order_id),
    )
    idempotency.release_order(db, order_id)
    announce_order(db, order_id)
    order = find_order(db, order_id)
    if order["channel"] == "pos":
        details = {"total": order["total"], "method": order["payment"]["method"], "reason": reason}
        audit(db, user_id, SALE_CANCELLED, target_of("order", order_id), details, now)
    return order, changes


# -- the steps every job takes


def lock_order(db: pw.Database, order_id: int, now: str) -> tuple[str, str]:
    """Take the order's row for this job, marking it changed `now`; its status and channel.

    Every job that changes an order's lines or money without changing its status (a
    partial refund) takes this first, as does one that reads its lines to undo them (a
    cancel): on PostgreSQL the second of two such jobs waits here for the first's commit
    and then reads what it did (SQLite runs one job at a time anyway)."""
    row = sql.one(
        db,
        "UPDATE orders SET updated_at = ? WHERE id = ? RETURNING status, channel",
        (now, order_id),
    )
    if row is None:
        raise not_found("order", order_id)
    return row[0], row[1]


def mark_payment_refunded(db: pw.Database, order_id: int, now: str) -> None:
    """The order's captured payment is (wholly) paid back."""
    sql.later(
        db,
        "UPDATE payments SET status = 'refunded', updated_at = ? "
        "WHERE order_id = ? AND status = 'captured'",
        (now, order_id),
    )


def set_status(
    db: pw.Database,
    order_id: int,
    status: str,
    target: str,
    now: str,
    *,
    channel: str | None = None,
    **extra: Any,
) -> None:
    """Move the order from `status` to `target` (setting the `extra` columns too), if the
    status table allows it (for its `channel`, when given) and nobody changed its status
    meanwhile."""
    check_transition(order_id, status, target, channel)
    assignments = "".join(f", {name} = ?" for name in extra)
    cursor = sql.execute(
        db,
        f"UPDATE orders SET status = ?, updated_at = ?{assignments} WHERE id = ? AND status = ?",
        (target, now, *extra.values(), order_id, status),
    )
    if cursor.rowcount != 1:
        raise Conflict(f"order {order_id} changed meanwhile: read it again", {"status": status})


def release_stock(
    db: pw.Database, order_id: int, kind: str, user_id: int | None, now: str
) -> list[StockChange]:
    """Give back every unit of an order not yet given back."""
    lines = sql.rows(
        db,
        "SELECT product_id, qty - refunded_qty FROM order_lines WHERE order_id = ? "
        "ORDER BY product_id",
        (order_id,),
    )
    return [
        move_stock(db, pid, qty, kind, order_id=order_id, user_id=user_id, now=now)
        for pid, qty in lines
        if qty > 0
    ]


def publish(hub: EventHub, order: dict[str, Any], changes: Iterable[Sequence[int]]) -> None:
    """On the reactor, after a job's commit: push the stock it moved, then the order."""
    hub.publish_stock(changes)
    hub.publish_order(order)
