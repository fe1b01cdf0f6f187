"""The sales report's counting rules on hand-made rows, on SQLite and PostgreSQL: which
statuses count, the first and last instant of a day, refunds netted on the day of the sale,
the channels and methods, and the order and bound of the products."""

from __future__ import annotations

from datetime import date, datetime, time

import peewee as pw
import pytest

from db.models import Order, OrderLine, Payment, Product
from protocol.errors import BadRequest
from server.services.sales_report import check_range, sales_report

DAY = date(2026, 3, 31)  # the day reported, the last of a month


def product(sku: str, price: int) -> int:
    return Product.create(
        sku=sku, name=f"item {sku}", price=price, currency="IDR", stock=10, initial_stock=10
    ).id


def order(
    at: datetime,
    status: str,
    lines: list[tuple[int, int, int, int]],  # product, qty, unit price, units refunded
    channel: str = "pos",
    method: str = "cash",
) -> int:
    total = sum(qty * price for _, qty, price, _ in lines)
    made = Order.create(
        status=status, channel=channel, total=total, currency="IDR", created_at=at, updated_at=at
    )
    for pid, qty, price, refunded in lines:
        OrderLine.create(
            order=made,
            product=pid,
            sku="as sold",
            name="as sold",
            qty=qty,
            unit_price=price,
            line_total=qty * price,
            refunded_qty=refunded,
        )
    Payment.create(order=made, provider="fake", method=method, amount=total, status="captured")
    return made.id


def at(day: date, moment: time = time(12, 0)) -> datetime:
    return datetime.combine(day, moment)


def test_only_paid_sales_count_on_their_day_net_of_refunds(database: pw.Database) -> None:
    kopi, teh = product("KOPI", 1_000), product("TEH", 300)
    first, last = time(0, 0), time(23, 59, 59, 999_999)
    order(at(DAY, first), "completed", [(kopi, 2, 1_000, 0)])  # the first instant: counts
    order(at(DAY, last), "paid", [(kopi, 1, 1_000, 0), (teh, 5, 300, 2)], "online", "card")
    order(at(DAY), "shipped", [(teh, 1, 300, 0)], "online", "ewallet")
    order(at(DAY), "delivered", [(kopi, 3, 900, 1)], "online", "card")  # sold at 900
    order(at(DAY), "refunded", [(kopi, 4, 1_000, 4)])  # every unit back: not counted
    order(at(DAY), "cancelled", [(kopi, 7, 1_000, 0)], "online", "card")
    order(at(DAY), "pending", [(kopi, 7, 1_000, 0)], "online", "card")
    order(at(date(2026, 4, 1), first), "completed", [(kopi, 9, 1_000, 0)])  # the next day
    order(at(date(2026, 3, 30), last), "completed", [(kopi, 9, 1_000, 0)])  # the day before

    found = sales_report(database, DAY, DAY, 100)

    online = {"orders": 3, "units": 1 + 3 + 1 + 2, "total": 1_000 + 900 + 300 + 1_800}
    pos = {"orders": 1, "units": 2, "total": 2_000}
    assert found["by_channel"] == {"online": online, "pos": pos}
    assert (found["orders"], found["units"], found["total"]) == (4, 9, 6_000)
    assert found["by_day"] == [{"day": "2026-03-31", "orders": 4, "units": 9, "total": 6_000}]
    assert found["by_method"] == {
        "cash": pos,
        "card": {"orders": 2, "units": 6, "total": 1_000 + 900 + 1_800},
        "ewallet": {"orders": 1, "units": 1, "total": 300},
    }
    assert [(p["sku"], p["units"], p["total"]) for p in found["by_product"]] == [
        ("KOPI", 5, 4_800),
        ("TEH", 4, 1_200),
    ], "the product's current sku, units net of refunds"


def test_days_without_sales_are_listed_and_products_are_bounded_by_top(
    database: pw.Database,
) -> None:
    a, b, c = product("A", 100), product("B", 100), product("C", 100)
    order(at(date(2026, 3, 29)), "completed", [(a, 1, 100, 0), (b, 2, 100, 0)])
    order(at(date(2026, 4, 2)), "completed", [(c, 2, 100, 0)])

    found = sales_report(database, date(2026, 3, 28), date(2026, 4, 2), 2)

    assert [d["day"] for d in found["by_day"]] == [
        "2026-03-28",
        "2026-03-29",
        "2026-03-30",
        "2026-03-31",
        "2026-04-01",
        "2026-04-02",
    ]
    assert [d["total"] for d in found["by_day"]] == [0, 300, 0, 0, 0, 200]
    assert found["products"] == 3
    assert [p["product_id"] for p in found["by_product"]] == [b, c], "ties: the lower id first"


def test_a_range_is_refused_backwards_or_past_366_days() -> None:
    check_range(date(2024, 1, 1), date(2024, 12, 31))  # a leap year: 366 days
    with pytest.raises(BadRequest) as backwards:
        check_range(date(2026, 3, 2), date(2026, 3, 1))
    with pytest.raises(BadRequest) as too_long:
        check_range(date(2025, 1, 1), date(2026, 1, 2))
    assert backwards.value.details == {"field": "to", "rule": "must not be before 'from'"}
    assert too_long.value.details == {
        "field": "to",
        "rule": "must be at most 365 days after 'from'",
    }


def test_the_first_and_last_days_a_day_can_name_are_reported(database: pw.Database) -> None:
    kopi = product("KOPI", 1_000)
    order(at(date(9999, 12, 31), time(23, 59, 59, 999_999)), "completed", [(kopi, 1, 1_000, 0)])
    order(at(date(1, 1, 1), time(0, 0)), "completed", [(kopi, 2, 1_000, 0)])

    last = sales_report(database, date(9999, 12, 31), date(9999, 12, 31), 100)
    first = sales_report(database, date(1, 1, 1), date(1, 1, 1), 100)

    assert (last["units"], first["units"]) == (1, 2)
