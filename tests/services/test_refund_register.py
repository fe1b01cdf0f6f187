"""A cash refund belongs to the refunding clerk's open register: out of its drawer, never
through the provider."""

from __future__ import annotations

import peewee as pw

from server import sql
from server.dispatch import Identity
from server.services.refund import RefundService
from server.services.stock import move_stock
from tests.services.inline_db import Shop, result
from tests.services.refunding import books_balance, refund, refund_rows
from tests.services.shopping import (
    Gateway,
    stock,
)


def open_register(db: pw.Database, clerk: Identity, opening_cash: int) -> int:
    return sql.insert(
        db,
        "INSERT INTO registers (station, clerk_id, opening_cash) VALUES ('kasir-1', ?, ?) "
        "RETURNING id",
        (clerk.user_id, opening_cash),
    )


def cash_sale(db: pw.Database, clerk: Identity, register_id: int, product_id: int, qty: int) -> int:
    """A completed point-of-sale order paid in cash, as `clerk.sale` leaves one."""
    now = sql.now()
    with db.atomic():
        ((sku, name, price),) = sql.rows(
            db, "SELECT sku, name, price FROM products WHERE id = ?", (product_id,)
        )
        order_id = sql.insert(
            db,
            "INSERT INTO orders (clerk_id, register_id, status, channel, total, currency, "
            "created_at, updated_at) VALUES (?, ?, 'completed', 'pos', ?, 'IDR', ?, ?) "
            "RETURNING id",
            (clerk.user_id, register_id, price * qty, now, now),
        )
        move_stock(db, product_id, -qty, "sale", order_id=order_id, user_id=clerk.user_id, now=now)
        sql.execute(
            db,
            "INSERT INTO order_lines (order_id, product_id, sku, name, qty, unit_price, "
            "line_total) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (order_id, product_id, sku, name, qty, price, price * qty),
        )
        sql.execute(
            db,
            "INSERT INTO payments (order_id, provider, method, amount, status, created_at, "
            "updated_at) VALUES (?, 'cash', 'cash', ?, 'captured', ?, ?)",
            (order_id, price * qty, now, now),
        )
    return order_id


def test_a_cash_refund_comes_out_of_the_refunding_clerks_open_register(
    mini_shop: Shop, db: pw.Database, gateway: Gateway, refunds: RefundService
) -> None:
    till = open_register(db, mini_shop.clerk, 100_000)
    sold = cash_sale(db, mini_shop.clerk, till, mini_shop.kopi, 2)

    answer = result(
        refund(refunds, mini_shop.clerk, sold, lines=[{"product_id": mini_shop.kopi, "qty": 1}])
    )

    assert answer["refund"] == {"id": 1, "amount": 17500, "method": "cash", "register_id": till}
    assert answer["status"] == "completed" and stock(mini_shop.kopi) == 4
    assert gateway.refunds == [], "cash comes from the drawer, not the provider"
    assert refund_rows(db) == [(sold, mini_shop.clerk.user_id, till, "cash", 17500, None)]
    drawer = sql.one(
        db,
        "SELECT opening_cash + (SELECT SUM(total) FROM orders WHERE register_id = ?) "
        "- (SELECT SUM(amount) FROM refunds WHERE register_id = ? AND method = 'cash') "
        "FROM registers WHERE id = ?",
        (till, till, till),
    )
    assert drawer == (100_000 + 35000 - 17500,)

    whole = result(refund(refunds, mini_shop.clerk, sold))
    assert whole["status"] == "refunded" and whole["payment"]["status"] == "refunded"
    books_balance(db)
