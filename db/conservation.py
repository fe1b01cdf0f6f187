"""Check the stock conservation invariant (docs/architecture.md, invariant 2).

For every product, stock = initial_stock + the sum of its movements' deltas; every movement has
the sign its kind implies; and the sale, cancel, refund and shortfall movements of each order
match its lines and shortfalls: sales take each line's qty, refunds give back its
refunded_qty, a cancelled order gives back what was not refunded, and an offline sale's
shortfall movement adds back exactly the units its shortfall records (the units it sold that
the stock did not hold). Plain SQL, so it runs on any open database, bound or not.
"""

from __future__ import annotations

from collections import defaultdict

import peewee as pw

_ORDER_KINDS = ("sale", "cancel", "refund", "shortfall")


def check_conservation(db: pw.Database) -> list[str]:
    """Every violation found, one readable sentence each; an empty list when all is well."""
    return _stock_vs_movements(db) + _signs(db) + _orders_vs_movements(db)


def _stock_vs_movements(db: pw.Database) -> list[str]:
    rows = db.execute_sql(
        """
        SELECT p.id, p.sku, p.stock, p.initial_stock, COALESCE(m.total, 0)
        FROM products p
        LEFT JOIN (SELECT product_id, SUM(delta) AS total
                   FROM stock_movements GROUP BY product_id) m ON m.product_id = p.id
        WHERE p.stock <> p.initial_stock + COALESCE(m.total, 0)
        ORDER BY p.id
        """
    ).fetchall()
    return [
        f"product {pid} ({sku}): stock is {stock} but initial stock {initial} "
        f"+ movements {total:+d} = {initial + total}"
        for pid, sku, stock, initial, total in rows
    ]


def _signs(db: pw.Database) -> list[str]:
    rows = db.execute_sql(
        """
        SELECT id, product_id, kind, delta, order_id FROM stock_movements
        WHERE (kind = 'sale' AND delta > 0)
           OR (kind IN ('cancel', 'refund', 'restock', 'shortfall') AND delta < 0)
           OR (kind IN ('sale', 'cancel', 'refund', 'shortfall') AND order_id IS NULL)
        ORDER BY id
        """
    ).fetchall()
    problems = []
    for mid, pid, kind, delta, order_id in rows:
        if order_id is None and kind in _ORDER_KINDS:
            problems.append(f"movement {mid} ({kind} of product {pid}) names no order")
        else:
            problems.append(f"movement {mid} ({kind} of product {pid}) has delta {delta:+d}")
    return problems


def _orders_vs_movements(db: pw.Database) -> list[str]:
    expected: dict[tuple[int, int, str], int] = defaultdict(int)
    for order_id, status, product_id, qty, refunded in db.execute_sql(
        """
        SELECT o.id, o.status, l.product_id, SUM(l.qty), SUM(l.refunded_qty)
        FROM orders o JOIN order_lines l ON l.order_id = o.id
        GROUP BY o.id, o.status, l.product_id
        """
    ):
        expected[order_id, product_id, "sale"] = -qty
        expected[order_id, product_id, "refund"] = refunded
        if status == "cancelled":
            expected[order_id, product_id, "cancel"] = qty - refunded
    for order_id, product_id, short in db.execute_sql(
        "SELECT order_id, product_id, qty FROM shortfalls"
    ):
        expected[order_id, product_id, "shortfall"] = short
    actual: dict[tuple[int, int, str], int] = defaultdict(int)
    for order_id, product_id, kind, total in db.execute_sql(
        """
        SELECT order_id, product_id, kind, SUM(delta) FROM stock_movements
        WHERE order_id IS NOT NULL AND kind IN ('sale', 'cancel', 'refund', 'shortfall')
        GROUP BY order_id, product_id, kind
        """
    ):
        actual[order_id, product_id, kind] = total
    problems = []
    for key in sorted(expected.keys() | actual.keys()):
        if expected[key] != actual[key]:
            order_id, product_id, kind = key
            source = "its shortfall records" if kind == "shortfall" else "its lines call for"
            problems.append(
                f"order {order_id}, product {product_id}: {kind} movements total "
                f"{actual[key]:+d}, {source} {expected[key]:+d}"
            )
    return problems
