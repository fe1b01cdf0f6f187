"""`admin.report.sales`: what the shop sold over a range of days (PROTOCOL.md section 12.8).

A sale counts on the UTC day it was sold (`SOLD_AT`: when the order was created, or for a
sale rung up offline when the till rang it up), net of every refund of it so far (a
refund lowers the day of the sale, not the day of the refund): its units are `qty` -
`refunded_qty` and its amount `unit_price` times those units. Counted are online orders
that were paid (`paid`, `shipped`, `delivered`) and point-of-sale orders that completed
(`completed`); `pending`, `cancelled` and wholly `refunded` ones never count.

Both queries select by `SOLD_AT` (an index on that expression) over at most `MAX_DAYS` days, and run
in one read transaction so that the totals by day and by product agree.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, time, timedelta
from typing import Any

import peewee as pw

from protocol.errors import BadRequest
from server import sql
from server.dbexec import Executor, is_postgres
from server.dispatch import Call

MAX_DAYS = 366
CHANNELS = ("online", "pos")
METHODS = ("cash", "card", "ewallet")
COUNTED = "('paid', 'shipped', 'delivered', 'completed')"
LEFT = "(l.qty - l.refunded_qty)"  # units of a line not refunded
SOLD_AT = "COALESCE(o.offline_at, o.created_at)"  # as the index `orders_sold_at` has it
IN_RANGE = f"{SOLD_AT} >= ? AND {SOLD_AT} <= ? AND o.status IN {COUNTED}"

# SQLite, without statistics (nothing runs ANALYZE), would rather search `orders_status`,
# every paid order ever, than the day range: it is told which index to use. PostgreSQL
# keeps statistics and picks by itself.
ORDERS = {False: "orders o INDEXED BY orders_sold_at", True: "orders o"}
# One row per counted order (units left > 0), then summed by day, channel and method (the
# method of its payment: an order is written with exactly one).
BY_DAY_SQL = (
    "SELECT s.day, s.channel, p.method, COUNT(*), SUM(s.units), SUM(s.amount) FROM ("
    f"SELECT o.id AS id, substr(CAST({SOLD_AT} AS TEXT), 1, 10) AS day, o.channel AS channel,"
    f" SUM({LEFT}) AS units, SUM(l.unit_price * {LEFT}) AS amount"
    f" FROM {{orders}} JOIN order_lines l ON l.order_id = o.id WHERE {IN_RANGE}"
    f" GROUP BY o.id, {SOLD_AT}, o.channel HAVING SUM({LEFT}) > 0"
    ") s JOIN payments p ON p.order_id = s.id GROUP BY s.day, s.channel, p.method"
)
BY_PRODUCT_SQL = (
    f"SELECT l.product_id, p.sku, p.name, SUM({LEFT}), SUM(l.unit_price * {LEFT})"
    " FROM {orders} JOIN order_lines l ON l.order_id = o.id"
    f" JOIN products p ON p.id = l.product_id WHERE {IN_RANGE}"
    f" GROUP BY l.product_id, p.sku, p.name HAVING SUM({LEFT}) > 0"
    " ORDER BY 5 DESC, 1"
)

Totals = dict[str, int]
Report = dict[str, Any]


class SalesReportService:
    def __init__(self, dbx: Executor, currency: str) -> None:
        self.dbx = dbx
        self.currency = currency

    async def sales(self, call: Call) -> Report:
        first: date = call.args["from"]
        last: date = call.args["to"]
        check_range(first, last)
        top: int = call.args["top"]
        found = await self.dbx.read(lambda db: sales_report(db, first, last, top))
        return {
            "from": first.isoformat(),
            "to": last.isoformat(),
            "currency": self.currency,
            **found,
        }


def check_range(first: date, last: date) -> None:
    """`bad_request` on `to` unless `first` <= `last` and the range holds at most
    `MAX_DAYS` days."""
    check_days_in_order(first, last)
    if (last - first).days + 1 > MAX_DAYS:
        raise BadRequest(
            f"the range holds more than {MAX_DAYS} days: ask for a year at a time",
            {"field": "to", "rule": f"must be at most {MAX_DAYS - 1} days after 'from'"},
        )


def check_days_in_order(first: date | None, last: date | None) -> None:
    """`bad_request` on `to` when both days are given and `last` is before `first` (a
    report's range, an audit listing's)."""
    if first is not None and last is not None and last < first:
        raise BadRequest(
            f"'to' ({last}) is before 'from' ({first}): give the first day, then the last",
            {"field": "to", "rule": "must not be before 'from'"},
        )


def sales_report(db: pw.Database, first: date, last: date, top: int) -> Report:
    """Totals, by day, channel and method, and the `top` products, of `first` to `last`."""
    bounds = (_timestamp(first, time.min), _timestamp(last, time.max))
    orders = ORDERS[is_postgres(db)]
    with _snapshot(db):
        groups = sql.rows(db, BY_DAY_SQL.format(orders=orders), bounds)
        products = sql.rows(db, BY_PRODUCT_SQL.format(orders=orders), bounds)
    days = {first + timedelta(days=n): _zero() for n in range((last - first).days + 1)}
    by_channel = {channel: _zero() for channel in CHANNELS}
    by_method = {method: _zero() for method in METHODS}
    overall = _zero()
    for day, channel, method, orders, units, amount in groups:
        counted = {"orders": int(orders), "units": int(units), "total": int(amount)}
        for totals in (overall, days[date.fromisoformat(day)], by_channel[channel]):
            _add(totals, counted)
        _add(by_method[method], counted)
    return {
        **overall,
        "by_day": [{"day": day.isoformat(), **totals} for day, totals in days.items()],
        "by_channel": by_channel,
        "by_method": by_method,
        "products": len(products),
        "by_product": [_product(row) for row in products[:top]],
    }


@contextmanager
def _snapshot(db: pw.Database) -> Iterator[None]:
    """One read transaction: on PostgreSQL `REPEATABLE READ`, so that every statement sees
    the same committed state (SQLite's WAL readers see one snapshot per transaction)."""
    with db.atomic():
        if is_postgres(db):
            sql.execute(db, "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        yield


def _timestamp(day: date, moment: time) -> str:
    """A moment of `day`, UTC, as the timestamp parameter the columns compare with (the
    last microsecond of a day, rather than the next midnight, also for 9999-12-31)."""
    return str(datetime.combine(day, moment))


def _zero() -> Totals:
    return {"orders": 0, "units": 0, "total": 0}


def _add(totals: Totals, more: Totals) -> None:
    for key, value in more.items():
        totals[key] += value


def _product(row: tuple[Any, ...]) -> dict[str, Any]:
    product_id, sku, name, units, amount = row
    return {
        "product_id": product_id,
        "sku": sku,
        "name": name,
        "units": int(units),
        "total": int(amount),
    }
