"""Orders: checkout in two short transactions around the payment, listing, status changes.

Checkout (DESIGN.md): the first transaction takes the stock and writes the order `pending`;
the provider is charged with no transaction open; a second transaction marks the order
`paid` (clearing the cart and keeping the key), or gives the stock back and marks it
`cancelled`. A server that dies in between settles its `pending` orders when it starts.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any

import peewee as pw
from twisted.internet import defer
from twisted.internet.defer import Deferred, inlineCallbacks
from twisted.logger import Logger
from twisted.python.failure import Failure

from db.models import utcnow
from protocol.codec import packb
from protocol.errors import BadRequest, ErrorCode, WarungError
from server import sql, wire
from server.dbexec import DatabaseExecutor
from server.dispatch import Call
from server.events import EventHub, StockChange
from server.payments import PaymentProvider
from server.pg_events import announce_order
from server.services.cart import CART_LINES, out_of_stock
from server.services.catalog import not_found
from server.services.order_states import check_transition
from server.services.stock import ShortOfStock, move_stock
from server.wire import utc
from server.write_jobs import write_job

STAFF = ("clerk", "admin")
PAYMENT_TIMEOUT_S = 60.0
PENDING_LEASE_S = 2 * PAYMENT_TIMEOUT_S
log = Logger()
ORDER_COLUMNS = (
    "id, status, channel, customer_id, total, currency, created_at, updated_at, cancel_reason"
)


def read_order(db: pw.Database, order_id: int) -> dict[str, Any] | None:
    row = sql.one(db, f"SELECT {ORDER_COLUMNS} FROM orders WHERE id = ?", (order_id,))
    if row is None:
        return None
    lines = sql.rows(
        db,
        "SELECT product_id, sku, name, qty, unit_price, line_total, refunded_qty "
        "FROM order_lines WHERE order_id = ? ORDER BY id",
        (order_id,),
    )
    payment = sql.one(
        db,
        "SELECT method, provider, reference, status FROM payments WHERE order_id = ? "
        "ORDER BY id DESC LIMIT 1",
        (order_id,),
    )
    return {
        "id": row[0],
        "status": row[1],
        "channel": row[2],
        "customer_id": row[3],
        "lines": [
            dict(
                zip(
                    (
                        "product_id",
                        "sku",
                        "name",
                        "qty",
                        "unit_price",
                        "line_total",
                        "refunded_qty",
                    ),
                    line,
                    strict=True,
                )
            )
            for line in lines
        ],
        "total": row[4],
        "currency": row[5],
        "created_at": utc(row[6]),
        "updated_at": utc(row[7]),
        "cancel_reason": row[8],
        "payment": dict(zip(("method", "provider", "reference", "status"), payment, strict=True))
        if payment
        else None,
    }


def fingerprint(args: dict[str, Any]) -> str:
    payment = args["payment"]
    return hashlib.sha256(packb([payment["method"], payment["token"]])).hexdigest()


def set_status(
    db: pw.Database, order_id: int, status: str, target: str, now: str, **extra: Any
) -> None:
    check_transition(order_id, status, target)
    assignments = "".join(f", {name} = ?" for name in extra)
    cursor = sql.execute(
        db,
        f"UPDATE orders SET status = ?, updated_at = ?{assignments} WHERE id = ? AND status = ?",
        (target, now, *extra.values(), order_id, status),
    )
    if cursor.rowcount != 1:
        raise WarungError(
            f"order {order_id} changed meanwhile: read it again",
            {"status": status},
            code=ErrorCode.CONFLICT,
        )


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


class OrderService:
    def __init__(
        self,
        dbx: DatabaseExecutor,
        hub: EventHub,
        provider: PaymentProvider,
        currency: str,
        clock: Any,
    ) -> None:
        self.clock = clock
        self.dbx = dbx
        self.hub = hub
        self.provider = provider
        self.currency = currency
        self._running: dict[tuple[int, str], tuple[str, list[Deferred[Any]]]] = {}

    @property
    def busy(self) -> bool:
        """A checkout is running (maybe for a client already gone)."""
        return bool(self._running)

    # -- checkout

    def checkout(self, call: Call) -> Deferred[dict[str, Any]]:
        """One checkout per (customer, key) at a time; a retry meanwhile waits for it."""
        slot = (call.identity.user_id, call.args["idempotency_key"])
        print_ = fingerprint(call.args)
        waiter: Deferred[dict[str, Any]] = Deferred()
        if slot in self._running:
            running_print, waiters = self._running[slot]
            if running_print != print_:
                raise _key_reused()
            waiters.append(waiter)
            return waiter
        self._running[slot] = (print_, [waiter])
        self._checkout(call, print_).addBoth(self._finish, slot)
        return waiter

    def _finish(self, outcome: Any, slot: tuple[int, str]) -> None:
        for waiter in self._running.pop(slot)[1]:
            if isinstance(outcome, Failure):
                waiter.errback(Failure(outcome.value, outcome.type, outcome.tb))
            else:
                waiter.callback(outcome)

    @inlineCallbacks
    def _checkout(self, call: Call, print_: str):
        me, args = call.identity, call.args
        begun = yield self.dbx.write(
            begin_checkout,
            me.user_id,
            args["idempotency_key"],
            print_,
            args["payment"]["method"],
            self.currency,
            self.provider.name,
        )
        order = begun["order"]
        if begun["existing"]:
            return order
        self.hub.publish_stock(stock_changes(begun["changes"]))
        self.hub.publish_order(order)
        payment = args["payment"]
        try:
            charge = yield self.provider.charge(
                order["id"], order["total"], order["currency"], payment["method"], payment["token"]
            ).addTimeout(PAYMENT_TIMEOUT_S, self.clock)
        except defer.TimeoutError:  # the order stays pending; the sweep settles it later
            raise WarungError(
                "the payment provider did not answer: retry later with the same idempotency key",
                {"retry_after_ms": int(PENDING_LEASE_S * 1000)},
                code=ErrorCode.UNAVAILABLE,
            ) from None
        if charge.approved:
            when = yield self.dbx.write(mark_paid, order["id"], charge.reference)
            order = {
                **order,
                "status": "paid",
                "updated_at": when,
                "payment": {
                    **order["payment"],
                    "status": "captured",
                    "reference": charge.reference,
                },
            }
            self.hub.publish_order(order)
            return order
        order, changes = yield self.dbx.write(
            mark_declined, order["id"], me.user_id, "payment_declined"
        )
        self.hub.publish_stock(stock_changes(changes))
        self.hub.publish_order(order)
        raise WarungError(
            f"payment declined: {charge.reason}; try another card or method",
            {"reason": charge.reason, "order_id": order["id"]},
            code=ErrorCode.PAYMENT_DECLINED,
        )

    # -- after a crash

    @inlineCallbacks
    def settle_pending(self, older_than_s: float | None = PENDING_LEASE_S):
        """Settle orders left `pending` by a checkout that stopped between its transactions.

        A checkout gives up on the provider after `PAYMENT_TIMEOUT_S`, so an order pending
        longer than the lease belongs to no running checkout on any server; `None` settles
        every pending order (one server on SQLite, at start: nothing else can own one).
        Returns how many this call settled.
        """
        where = "" if older_than_s is None else " AND updated_at < ?"
        params = () if older_than_s is None else (utcnow() - timedelta(seconds=older_than_s),)
        pending = yield self.dbx.read(
            lambda db: [
                row[0]
                for row in sql.rows(
                    db, f"SELECT id FROM orders WHERE status = 'pending'{where}", params
                )
            ]
        )
        settled = 0
        for order_id in pending:
            try:
                yield self._settle(order_id)
                settled += 1
            except WarungError as lost:  # settled meanwhile by its checkout or another server
                log.info("order {id} was settled elsewhere: {why}", id=order_id, why=lost.message)
        return settled

    @inlineCallbacks
    def _settle(self, order_id: int):
        charge = yield self.provider.lookup(order_id)
        if charge is not None and charge.approved:
            yield self.dbx.write(mark_paid, order_id, charge.reference)
            order = yield self.dbx.read(lambda db: read_order(db, order_id))
        else:
            order, changes = yield self.dbx.write(mark_declined, order_id, None, "interrupted")
            self.hub.publish_stock(stock_changes(changes))
        self.hub.publish_order(order)

    # -- reading and changing orders

    @inlineCallbacks
    def get(self, call: Call):
        order = yield self.dbx.read(lambda db: read_order(db, call.args["order_id"]))
        me = call.identity
        return visible(order, call.args["order_id"], me.user_id, me.role)

    @inlineCallbacks
    def list(self, call: Call):
        me, args = call.identity, call.args
        where, params = [], []
        if me.role not in STAFF:
            where.append("customer_id = ?")
            params.append(me.user_id)
        if "status" in args:
            where.append("status = ?")
            params.append(args["status"])
        scope = f"{me.user_id if me.role not in STAFF else 'all'}|{args.get('status')}"
        if "cursor" in args:
            where.append("id < ?")
            params.append(_decode_id_cursor(args["cursor"], scope))
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        limit = args["limit"]

        def page(db: pw.Database) -> list[dict[str, Any]]:
            ids = sql.rows(
                db, f"SELECT id FROM orders {clause} ORDER BY id DESC LIMIT ?", (*params, limit + 1)
            )
            return [read_order(db, oid) for (oid,) in ids]

        found = yield self.dbx.read(page)
        more = len(found) > limit
        items = found[:limit]
        return {
            "items": items,
            "next_cursor": _encode_id_cursor(items[-1]["id"], scope) if more else None,
        }

    @inlineCallbacks
    def cancel(self, call: Call):
        me = call.identity
        order, changes = yield self.dbx.write(
            cancel_order, call.args["order_id"], me.user_id, me.role
        )
        self.hub.publish_stock(stock_changes(changes))
        self.hub.publish_order(order)
        payment = order["payment"]
        if payment and payment["reference"]:
            unrefunded = sum(
                (line["qty"] - line["refunded_qty"]) * line["unit_price"] for line in order["lines"]
            )
            yield self.provider.refund(payment["reference"], unrefunded)
        return order

    def ship(self, call: Call):
        return self._advance(call, "shipped")

    def deliver(self, call: Call):
        return self._advance(call, "delivered")

    @inlineCallbacks
    def _advance(self, call: Call, target: str):
        order = yield self.dbx.write(advance_order, call.args["order_id"], target)
        self.hub.publish_order(order)
        return order


def visible(order: dict[str, Any] | None, order_id: int, user_id: int, role: str) -> dict[str, Any]:
    """The order if this user may see it; another customer's order does not exist."""
    if order is None or (role not in STAFF and order["customer_id"] != user_id):
        raise not_found("order", order_id)
    return order


def stock_changes(rows: list[list[int]]) -> list[StockChange]:
    """The stock changes a write job reported, as msgpack carried them."""
    return [StockChange(*row) for row in rows]


@write_job
def cancel_order(
    db: pw.Database, order_id: int, user_id: int, role: str
) -> tuple[dict[str, Any], list[StockChange]]:
    """Cancel a paid (or later) order of `user_id`'s (any, for staff) and give its stock back."""
    order = visible(read_order(db, order_id), order_id, user_id, role)
    if order["status"] == "pending":  # its checkout is still running: it decides
        raise WarungError(
            f"order {order_id} is still being paid for: wait for its outcome",
            {"status": "pending", "reason": "payment_in_progress"},
            code=ErrorCode.INVALID_STATE,
        )
    check_transition(order_id, order["status"], "cancelled")
    now = sql.now()
    changes = release_stock(db, order_id, "cancel", user_id, now)
    reason = "staff" if role in STAFF else "customer"
    set_status(db, order_id, order["status"], "cancelled", now, cancel_reason=reason)
    announce_order(db, order_id)
    sql.execute(
        db,
        "UPDATE payments SET status = 'refunded', updated_at = ? "
        "WHERE order_id = ? AND status = 'captured'",
        (now, order_id),
    )
    return read_order(db, order_id), changes


@write_job
def advance_order(db: pw.Database, order_id: int, target: str) -> dict[str, Any]:
    order = read_order(db, order_id)
    if order is None:
        raise not_found("order", order_id)
    set_status(db, order_id, order["status"], target, sql.now())
    announce_order(db, order_id)
    return read_order(db, order_id)


@write_job
def begin_checkout(
    db: pw.Database,
    user_id: int,
    key: str,
    print_: str,
    method: str,
    currency: str,
    provider: str,
) -> dict[str, Any]:
    """The first checkout transaction: claim the key, take the stock, write the order
    `pending`. Returns `{"order", "changes", "existing"}`; `existing` is true (and nothing
    is written) when the key already names a paid order."""
    stored = sql.one(
        db,
        "SELECT fingerprint, order_id, response FROM idempotency_keys "
        "WHERE user_id = ? AND key = ?",
        (user_id, key),
    )
    if stored is not None:
        return {"order": _replay(db, stored, print_), "changes": [], "existing": True}
    lines = sql.rows(db, CART_LINES, (user_id,))
    if not lines:
        raise WarungError(
            "the cart is empty: add a product first",
            {"reason": "empty_cart"},
            code=ErrorCode.INVALID_STATE,
        )
    now = sql.now()
    total = sum(line[3] * line[4] for line in lines)
    order_id = sql.insert(
        db,
        "INSERT INTO orders (customer_id, status, channel, total, currency, idempotency_key, "
        "created_at, updated_at) VALUES (?, 'pending', 'online', ?, ?, ?, ?, ?) RETURNING id",
        (user_id, total, currency, key, now, now),
    )
    # Claim the key before taking stock: the same key racing on another server waits
    # here for that one's commit and answers in_progress, never out_of_stock.
    try:
        sql.execute(
            db,
            "INSERT INTO idempotency_keys (user_id, key, fingerprint, order_id, created_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (user_id, key, print_, order_id, now),
        )
    except pw.IntegrityError:  # claimed by the other server first
        raise _in_progress() from None
    changes = []
    for pid, _, _, qty, _, _stock, archived, _ in sorted(lines):
        if archived:
            raise out_of_stock(pid, qty, 0)
        try:
            changes.append(
                move_stock(db, pid, -qty, "sale", order_id=order_id, user_id=user_id, now=now)
            )
        except ShortOfStock as short:
            raise out_of_stock(pid, qty, short.available) from None
    for pid, sku, name, qty, price, *_ in lines:
        sql.execute(
            db,
            "INSERT INTO order_lines (order_id, product_id, sku, name, qty, unit_price, "
            "line_total, refunded_qty) VALUES (?, ?, ?, ?, ?, ?, ?, 0)",
            (order_id, pid, sku, name, qty, price, price * qty),
        )
    sql.execute(
        db,
        "INSERT INTO payments (order_id, provider, method, amount, status, created_at, "
        "updated_at) VALUES (?, ?, ?, ?, 'pending', ?, ?)",
        (order_id, provider, method, total, now, now),
    )
    announce_order(db, order_id)
    order = {
        "id": order_id,
        "status": "pending",
        "channel": "online",
        "customer_id": user_id,
        "lines": [
            {**wire.line(pid, sku, name, qty, price), "refunded_qty": 0}
            for pid, sku, name, qty, price, *_ in lines
        ],
        "total": total,
        "currency": currency,
        "created_at": utc(now),
        "updated_at": utc(now),
        "cancel_reason": None,
        "payment": {
            "method": method,
            "provider": provider,
            "reference": None,
            "status": "pending",
        },
    }
    return {"order": order, "changes": changes, "existing": False}


def _replay(db: pw.Database, stored: tuple[Any, ...], print_: str) -> dict[str, Any]:
    their_print, order_id, response = stored
    if their_print != print_:
        raise _key_reused()
    if response is None:
        raise _in_progress()
    return read_order(db, order_id)


@write_job
def mark_paid(db: pw.Database, order_id: int, reference: str) -> datetime:
    """Mark a pending order paid, empty its lines from the cart, keep its key; when."""
    now = sql.now()
    set_status(db, order_id, "pending", "paid", now)
    sql.execute(
        db,
        "UPDATE payments SET status = 'captured', reference = ?, updated_at = ? WHERE order_id = ?",
        (reference, now, order_id),
    )
    sql.execute(
        db,
        "DELETE FROM cart_lines WHERE user_id = (SELECT customer_id FROM orders WHERE id = ?) "
        "AND product_id IN (SELECT product_id FROM order_lines WHERE order_id = ?)",
        (order_id, order_id),
    )
    sql.execute(
        db,
        "UPDATE idempotency_keys SET response = ? WHERE order_id = ?",
        (packb({"order_id": order_id}), order_id),
    )
    announce_order(db, order_id)
    return utc(now)


@write_job
def mark_declined(
    db: pw.Database, order_id: int, user_id: int | None, reason: str
) -> tuple[dict[str, Any], list[StockChange]]:
    """Give the stock back, cancel the order and free its key for another try."""
    now = sql.now()
    changes = release_stock(db, order_id, "cancel", user_id, now)
    set_status(db, order_id, "pending", "cancelled", now, cancel_reason=reason)
    sql.execute(
        db,
        "UPDATE payments SET status = 'declined', updated_at = ? WHERE order_id = ?",
        (now, order_id),
    )
    sql.execute(db, "DELETE FROM idempotency_keys WHERE order_id = ?", (order_id,))
    announce_order(db, order_id)
    return read_order(db, order_id), changes


def _encode_id_cursor(last_id: int, scope: str) -> str:
    return f"{last_id}.{hashlib.sha256(scope.encode()).hexdigest()[:8]}"


def _decode_id_cursor(cursor: str, scope: str) -> int:
    last, _, check = cursor.partition(".")
    if not last.isdigit() or check != hashlib.sha256(scope.encode()).hexdigest()[:8]:
        raise BadRequest("not a cursor from this listing", {"field": "cursor", "rule": "invalid"})
    return int(last)


def _in_progress() -> WarungError:
    return WarungError(
        "a checkout with this key is still in progress: retry in a moment",
        {"field": "idempotency_key", "reason": "in_progress"},
        code=ErrorCode.CONFLICT,
    )


def _key_reused() -> WarungError:
    return WarungError(
        "this idempotency key was used for a checkout with other arguments",
        {"field": "idempotency_key"},
        code=ErrorCode.CONFLICT,
    )
