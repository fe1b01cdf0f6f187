"""The server-side cart: one per customer, kept in the database across reconnects."""

from __future__ import annotations

from typing import Any

import peewee as pw

from db.models import utcnow
from protocol.errors import BadRequest, ErrorCode, WarungError
from server import sql, wire
from server.dbexec import DatabaseExecutor
from server.dispatch import Call
from server.services.catalog import not_found
from server.write_jobs import write_job

MAX_LINES = 100
MAX_QTY = 1000

CART_LINES = (
    "SELECT p.id, p.sku, p.name, c.qty, p.price, p.stock, p.archived, p.currency "
    "FROM cart_lines c JOIN products p ON p.id = c.product_id "
    "WHERE c.user_id = ? ORDER BY c.added_at, c.id"
)


def out_of_stock(product_id: int, requested: int, available: int) -> WarungError:
    return WarungError(
        f"only {available} left of product {product_id}, {requested} asked for",
        {"product_id": product_id, "requested": requested, "available": available},
        code=ErrorCode.OUT_OF_STOCK,
    )


def read_cart(db: pw.Database, user_id: int, currency: str) -> dict[str, Any]:
    items = []
    total = count = 0
    for pid, sku, name, qty, price, stock, archived, _ in sql.rows(db, CART_LINES, (user_id,)):
        items.append(
            {
                **wire.line(pid, sku, name, qty, price),
                "stock": stock,
                "available": qty <= stock and not archived,
            }
        )
        total += price * qty
        count += qty
    return {"items": items, "total": total, "currency": currency, "count": count}


class CartService:
    def __init__(self, dbx: DatabaseExecutor, currency: str) -> None:
        self.dbx = dbx
        self.currency = currency

    def get(self, call: Call):
        user_id = call.identity.user_id
        return self.dbx.read(lambda db: read_cart(db, user_id, self.currency))

    def add(self, call: Call):
        return self._change(call, call.args["qty"], relative=True)

    def set(self, call: Call):
        return self._change(call, call.args["qty"], relative=False)

    def remove(self, call: Call):
        return self._change(call, 0, relative=False)

    def clear(self, call: Call):
        return self.dbx.write(clear_cart, call.identity.user_id, self.currency)

    def _change(self, call: Call, qty: int, relative: bool):
        user_id, product_id = call.identity.user_id, call.args["product_id"]
        return self.dbx.write(change_cart, user_id, product_id, qty, relative, self.currency)


@write_job
def clear_cart(db: pw.Database, user_id: int, currency: str) -> dict[str, Any]:
    sql.execute(db, "DELETE FROM cart_lines WHERE user_id = ?", (user_id,))
    return read_cart(db, user_id, currency)


@write_job
def change_cart(
    db: pw.Database, user_id: int, product_id: int, qty: int, relative: bool, currency: str
) -> dict[str, Any]:
    set_line(db, user_id, product_id, qty, relative)
    return read_cart(db, user_id, currency)


def set_line(db: pw.Database, user_id: int, product_id: int, qty: int, relative: bool) -> None:
    """Set (or add to) one line, checked against the product's current stock."""
    line = sql.one(
        db, "SELECT qty FROM cart_lines WHERE user_id = ? AND product_id = ?", (user_id, product_id)
    )
    current = line[0] if line else 0
    wanted = current + qty if relative else qty
    if wanted == 0:
        sql.execute(
            db, "DELETE FROM cart_lines WHERE user_id = ? AND product_id = ?", (user_id, product_id)
        )
        return
    if wanted > MAX_QTY:
        raise BadRequest(
            f"a cart line holds at most {MAX_QTY} units (this would make {wanted})",
            {"field": "qty", "rule": f"line total at most {MAX_QTY}"},
        )
    found = sql.one(db, "SELECT stock, archived FROM products WHERE id = ?", (product_id,))
    if found is None or found[1]:
        raise not_found("product", product_id)
    if wanted > found[0]:
        raise out_of_stock(product_id, wanted, found[0])
    if line:
        sql.execute(
            db,
            "UPDATE cart_lines SET qty = ? WHERE user_id = ? AND product_id = ?",
            (wanted, user_id, product_id),
        )
        return
    (lines,) = sql.one(db, "SELECT count(*) FROM cart_lines WHERE user_id = ?", (user_id,))
    if lines >= MAX_LINES:
        raise WarungError(
            f"a cart holds at most {MAX_LINES} different products",
            {"reason": "cart_full"},
            code=ErrorCode.INVALID_STATE,
        )
    sql.execute(
        db,
        "INSERT INTO cart_lines (user_id, product_id, qty, added_at) VALUES (?, ?, ?, ?)",
        (user_id, product_id, wanted, utcnow()),
    )
