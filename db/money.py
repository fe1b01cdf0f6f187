"""Check the money invariants of refunds and tills (issue 13's proof), as stock conservation
is checked by `db.conservation`.

Per order line, the units refunded (`refund_lines`) are what the line says (`refunded_qty`),
never more than were bought, and their money never more than was paid for the line; a refund
line names a product of its order; a refund's amount is the sum of its lines. Per closed
register, `expected_cash` is `opening_cash` plus the register's cash sales (point-of-sale
orders paid in cash and not cancelled) minus the cash refunds made on it. Plain SQL, so it
runs on any open database, bound or not.
"""

from __future__ import annotations

import peewee as pw


def check_money(db: pw.Database) -> list[str]:
    """Every violation found, one readable sentence each; an empty list when all is well."""
    return _lines_vs_refunds(db) + _strays(db) + _refund_totals(db) + _tills(db)


def _lines_vs_refunds(db: pw.Database) -> list[str]:
    rows = db.execute_sql(
        """
        SELECT l.order_id, l.product_id, l.qty, l.line_total, l.refunded_qty,
               COALESCE(r.qty, 0), COALESCE(r.amount, 0)
        FROM order_lines l
        LEFT JOIN (SELECT f.order_id, rl.product_id, SUM(rl.qty) AS qty, SUM(rl.amount) AS amount
                   FROM refund_lines rl JOIN refunds f ON f.id = rl.refund_id
                   GROUP BY f.order_id, rl.product_id) r
               ON r.order_id = l.order_id AND r.product_id = l.product_id
        WHERE COALESCE(r.qty, 0) <> l.refunded_qty OR COALESCE(r.qty, 0) > l.qty
           OR COALESCE(r.amount, 0) > l.line_total
        ORDER BY l.order_id, l.product_id
        """
    ).fetchall()
    return [
        f"order {order_id}, product {pid}: refunds give back {units} units and {amount} "
        f"of a line of {qty} units for {total} whose refunded_qty is {refunded}"
        for order_id, pid, qty, total, refunded, units, amount in rows
    ]


def _strays(db: pw.Database) -> list[str]:
    rows = db.execute_sql(
        """
        SELECT f.id, f.order_id, rl.product_id FROM refund_lines rl
        JOIN refunds f ON f.id = rl.refund_id
        LEFT JOIN order_lines l ON l.order_id = f.order_id AND l.product_id = rl.product_id
        WHERE l.id IS NULL ORDER BY f.id, rl.product_id
        """
    ).fetchall()
    return [
        f"refund {refund_id} gives back product {pid}, which order {order_id} does not have"
        for refund_id, order_id, pid in rows
    ]


def _refund_totals(db: pw.Database) -> list[str]:
    rows = db.execute_sql(
        """
        SELECT f.id, f.amount, COALESCE(SUM(rl.amount), 0) FROM refunds f
        LEFT JOIN refund_lines rl ON rl.refund_id = f.id
        GROUP BY f.id, f.amount HAVING f.amount <> COALESCE(SUM(rl.amount), 0) ORDER BY f.id
        """
    ).fetchall()
    return [
        f"refund {refund_id} is for {amount} but its lines add up to {lines}"
        for refund_id, amount, lines in rows
    ]


def _tills(db: pw.Database) -> list[str]:
    rows = db.execute_sql(
        """
        SELECT g.id, g.opening_cash, g.expected_cash,
               COALESCE((SELECT SUM(o.total) FROM orders o
                         JOIN payments p ON p.order_id = o.id AND p.method = 'cash'
                         WHERE o.register_id = g.id AND o.status <> 'cancelled'), 0),
               COALESCE((SELECT SUM(f.amount) FROM refunds f
                         WHERE f.register_id = g.id AND f.method = 'cash'), 0)
        FROM registers g WHERE g.status = 'closed' ORDER BY g.id
        """
    ).fetchall()
    return [
        f"register {rid}: expected cash is {expected} but opening cash {opening} "
        f"+ cash sales {sales} - cash refunds {refunds} = {opening + sales - refunds}"
        for rid, opening, expected, sales, refunds in rows
        if expected != opening + sales - refunds
    ]
