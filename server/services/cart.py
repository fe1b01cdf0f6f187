"""The server-side cart: one per customer, kept in the database across reconnects."""

from __future__ import annotations

from typing import Any

import peewee as pw
from twisted.internet.defer import Deferred

from protocol.errors import BadRequest, InvalidState, OutOfStock
from protocol.ops import MAX_MONEY
from protocol.rules import MAX_QTY
from server import sql, wire
from server.dbexec import Executor, is_postgres
from server.dispatch import Call
from server.services.catalog import not_found
from server.write_jobs import write_job

MAX_LINES = 100
LOCK_OWNER = "SELECT 1 FROM users WHERE id = {} FOR NO KEY UPDATE"

CART_LINES = (
    "SELECT p.id, p.sku, p.name, c.qty, p.price, p.stock, p.archived, p.currency "
    "FROM cart_lines c JOIN products p ON p.id = c.product_id "
    "WHERE c.user_id = ? ORDER BY c.added_at, c.id"
)

# The cart's lines, then the product `change_cart` changes as one more row, last (marked 1
# in the ninth column, which orders it), in one statement: a round trip fewer on PostgreSQL.
CART_AND_PRODUCT = (
    "SELECT p.id, p.sku, p.name, c.qty, p.price, p.stock, p.archived, p.currency, 0, "
    "c.added_at, c.id FROM cart_lines c JOIN products p ON p.id = c.product_id "
    "WHERE c.user_id = ? UNION ALL "
    "SELECT id, sku, name, 0, price, stock, archived, currency, 1, NULL, NULL "
    "FROM products WHERE id = ? ORDER BY 9, 10, 11"
)


def lock_cart(db: pw.Database, user_id: int) -> None:
    """Hold the customer's cart until the job commits. Every job that changes a cart takes
    this first: on PostgreSQL, where cart jobs of one customer may run at once on several
    connections and servers, the second waits here for the first's commit and, under READ
    COMMITTED, then reads the cart as the first left it, so no add is lost and no cart
    grows past `MAX_LINES`. The lock is the customer's `users` row `FOR NO KEY UPDATE`: it
    excludes the other cart jobs, not the rows that merely refer to the customer (orders,
    sessions). SQLite's one writer runs one job at a time: there is nothing to take."""
    if is_postgres(db):
        sql.later(db, LOCK_OWNER.format("?"), (user_id,))


def lock_cart_of_order(db: pw.Database, order_id: int) -> None:
    """`lock_cart` for the customer of an online order (whose paid lines leave the cart)."""
    if is_postgres(db):
        owner = "(SELECT customer_id FROM orders WHERE id = ?)"
        sql.later(db, LOCK_OWNER.format(owner), (order_id,))


LINE_COST_RULE = "line total over 10^12"


def check_line_cost(product_id: int, qty: int, price: int) -> int:
    """A line's units times its price, refused over `MAX_MONEY`: an order or a cart (100
    lines at most) then stays far under 2^53, the most a client reads exactly, and a day's
    or a till's sums within 64 bits."""
    cost = qty * price
    if cost > MAX_MONEY:
        raise BadRequest(
            f"{qty} units of product {product_id} would cost {cost}, more than {MAX_MONEY}: "
            "take fewer units on one line",
            {"field": "qty", "rule": LINE_COST_RULE, "product_id": product_id},
        )
    return cost


def no_longer_sold(product_id: int, requested: int) -> OutOfStock:
    """`out_of_stock` for an archived product: none available, and its details say why."""
    return OutOfStock(
        f"product {product_id} is no longer sold (archived), {requested} asked for",
        {"product_id": product_id, "requested": requested, "available": 0, "archived": True},
    )


def out_of_stock(product_id: int, requested: int, available: int) -> OutOfStock:
    return OutOfStock(
        f"only {available} left of product {product_id}, {requested} asked for",
        {"product_id": product_id, "requested": requested, "available": available},
    )


def read_cart(db: pw.Database, user_id: int, currency: str) -> dict[str, Any]:
    return cart_map(sql.rows(db, CART_LINES, (user_id,)), currency)


def cart_map(lines: list[tuple[Any, ...]], currency: str) -> dict[str, Any]:
    """The cart as clients see it, from its rows as `CART_LINES` selects them."""
    items = []
    total = count = 0
    for pid, sku, name, qty, price, stock, archived, _ in lines:
        items.append(
            {
                **wire.line(pid, sku, name, qty, price),
                "stock": stock,
                "available": qty <= stock and not archived,
                "archived": bool(archived),
            }
        )
        total += price * qty
        count += qty
    return {"items": items, "total": total, "currency": currency, "count": count}


class CartService:
    def __init__(self, dbx: Executor, currency: str) -> None:
        self.dbx = dbx
        self.currency = currency

    def get(self, call: Call) -> Deferred[dict[str, Any]]:
        user_id = call.identity.user_id
        return self.dbx.read(lambda db: read_cart(db, user_id, self.currency))

    def add(self, call: Call) -> Deferred[dict[str, Any]]:
        return self._change(call, call.args["qty"], relative=True)

    def set(self, call: Call) -> Deferred[dict[str, Any]]:
        return self._change(call, call.args["qty"], relative=False)

    def remove(self, call: Call) -> Deferred[dict[str, Any]]:
        return self._change(call, 0, relative=False)

    def clear(self, call: Call) -> Deferred[dict[str, Any]]:
        return self.dbx.write(clear_cart, call.identity.user_id, self.currency)

    def _change(self, call: Call, qty: int, relative: bool) -> Deferred[dict[str, Any]]:
        user_id, product_id = call.identity.user_id, call.args["product_id"]
        return self.dbx.write(change_cart, user_id, product_id, qty, relative, self.currency)


@write_job
def clear_cart(db: pw.Database, user_id: int, currency: str) -> dict[str, Any]:
    lock_cart(db, user_id)
    sql.later(db, "DELETE FROM cart_lines WHERE user_id = ?", (user_id,))
    return read_cart(db, user_id, currency)


@write_job
def change_cart(
    db: pw.Database, user_id: int, product_id: int, qty: int, relative: bool, currency: str
) -> dict[str, Any]:
    """Set (or add to) one line, checked against the product's current stock; the cart.

    The cart is read once, with the product, under `lock_cart`, before the change, and the
    answer is that read with the change applied: a cart add is two statements (three on
    PostgreSQL, with the lock), not five."""
    lock_cart(db, user_id)
    lines = sql.rows(db, CART_AND_PRODUCT, (user_id, product_id))
    product = lines.pop()[:8] if lines and lines[-1][8] else None
    lines = [line[:8] for line in lines]
    at = next((i for i, line in enumerate(lines) if line[0] == product_id), None)
    current = lines[at][3] if at is not None else 0
    wanted = current + qty if relative else qty
    if wanted == 0:
        sql.later(
            db, "DELETE FROM cart_lines WHERE user_id = ? AND product_id = ?", (user_id, product_id)
        )
        return cart_map([line for line in lines if line[0] != product_id], currency)
    if wanted > MAX_QTY:
        raise BadRequest(
            f"a cart line holds at most {MAX_QTY} units (this would make {wanted})",
            {"field": "qty", "rule": f"line total at most {MAX_QTY}"},
        )
    if at is None:
        lines.append(_new_line(db, user_id, product_id, product, wanted, len(lines)))
        return cart_map(lines, currency)
    pid, sku, name, _, price, stock, archived, line_currency = lines[at]
    if archived:
        raise not_found("product", product_id)
    check_line_cost(product_id, wanted, price)
    if wanted > stock:
        raise out_of_stock(product_id, wanted, stock)
    sql.later(
        db,
        "UPDATE cart_lines SET qty = ? WHERE user_id = ? AND product_id = ?",
        (wanted, user_id, product_id),
    )
    lines[at] = (pid, sku, name, wanted, price, stock, archived, line_currency)
    return cart_map(lines, currency)


def _new_line(
    db: pw.Database,
    user_id: int,
    product_id: int,
    product: tuple[Any, ...] | None,
    qty: int,
    lines: int,
) -> tuple[Any, ...]:
    """Put `product_id`, not yet in the cart, into it (`product`: the product's row of
    `CART_AND_PRODUCT`, cut to a line's 8 columns, qty 0; None if there is no such
    product); its line."""
    if product is None or product[6]:
        raise not_found("product", product_id)
    pid, sku, name, _, price, stock, archived, currency = product
    check_line_cost(product_id, qty, price)
    if qty > stock:
        raise out_of_stock(product_id, qty, stock)
    if lines >= MAX_LINES:
        raise InvalidState(
            f"a cart holds at most {MAX_LINES} different products", {"reason": "cart_full"}
        )
    sql.later(
        db,
        "INSERT INTO cart_lines (user_id, product_id, qty, added_at) VALUES (?, ?, ?, ?)",
        (user_id, product_id, qty, sql.now()),
    )
    return (pid, sku, name, qty, price, stock, archived, currency)
