"""`admin.report.sales` over the wire, on SQLite and PostgreSQL: a seeded random workload of
online orders (some declined, some cancelled), point-of-sale sales in every method and
partial and whole refunds, spread over several days by backdating the orders in the
database; the report's figures equal the sums this test computes from what the clients were
told."""

from __future__ import annotations

import random
import secrets
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

import pytest

from protocol.client import Client
from protocol.errors import BadRequest, PaymentDeclined
from tests.e2e.harness import Servers
from tests.e2e.shopdb import add_product, init_demo, opened

FIRST = date(2026, 3, 27)  # the days reported: FIRST .. LAST, across a month's end
LAST = date(2026, 4, 2)
ORDERS = 60
PRICES = (12_500, 3_000, 99_900, 750)
COUNTED = {"paid", "shipped", "delivered", "completed"}
EDGES = (time(0, 0), time(23, 59, 59, 999_999))  # the first and last instant of a day


@dataclass
class Told:
    """An order as its clients were last told of it, and the moment it is moved back to."""

    id: int
    channel: str
    method: str
    prices: dict[int, int]
    qty: dict[int, int]
    at: datetime
    status: str = ""
    refunded: Counter[int] = field(default_factory=Counter)

    def told(self, order: dict[str, Any]) -> None:
        self.status = order["status"]
        self.refunded = Counter({ln["product_id"]: ln["refunded_qty"] for ln in order["lines"]})

    def left(self) -> dict[int, int]:
        """Units not refunded, by product; none unless the report should count it."""
        if self.status not in COUNTED or not FIRST <= self.at.date() <= LAST:
            return {}
        return {pid: qty - self.refunded[pid] for pid, qty in self.qty.items()}


class Workload:
    def __init__(self, seed: int, products: list[int], customer: Client, clerk: Client) -> None:
        self.rng = random.Random(seed)
        self.products = products
        self.customer = customer
        self.clerk = clerk
        self.orders: list[Told] = []

    def moment(self) -> datetime:
        """A moment of a day from the day before FIRST to the day after LAST (those two are
        outside the report), often the first or last instant of its day."""
        day = FIRST + timedelta(days=self.rng.randint(-1, (LAST - FIRST).days + 1))
        if self.rng.random() < 0.3:
            return datetime.combine(day, self.rng.choice(EDGES))
        return datetime.combine(day, time(self.rng.randrange(24), self.rng.randrange(60)))

    def lines(self) -> dict[int, int]:
        chosen = self.rng.sample(self.products, self.rng.randint(1, len(self.products)))
        return {pid: self.rng.randint(1, 4) for pid in chosen}

    def online(self) -> Told:
        lines = self.lines()
        self.customer.call("cart.clear")
        for pid, qty in lines.items():
            self.customer.call("cart.add", product_id=pid, qty=qty)
        method = self.rng.choice(("card", "ewallet"))
        token = "decline" if self.rng.random() < 0.1 else "tok"
        try:
            order = self.customer.checkout({"method": method, "token": token})
        except PaymentDeclined as declined:
            order = self.clerk.call("order.get", order_id=declined.details["order_id"])
        return self.record(order, method)

    def pos(self) -> Told:
        method = self.rng.choice(("cash", "card", "ewallet"))
        payment = {"method": method} if method == "cash" else {"method": method, "token": "tok"}
        lines = [{"product_id": pid, "qty": qty} for pid, qty in self.lines().items()]
        order = self.clerk.call(
            "clerk.sale", lines=lines, payment=payment, idempotency_key=secrets.token_hex(8)
        )
        return self.record(order, method)

    def record(self, order: dict[str, Any], method: str) -> Told:
        told = Told(
            id=order["id"],
            channel=order["channel"],
            method=method,
            prices={ln["product_id"]: ln["unit_price"] for ln in order["lines"]},
            qty={ln["product_id"]: ln["qty"] for ln in order["lines"]},
            at=self.moment(),
        )
        told.told(order)
        self.orders.append(told)
        return told

    def afterwards(self, order: Told) -> None:
        """Maybe cancel, ship, or refund some units or all of them."""
        roll = self.rng.random()
        if order.status not in ("paid", "completed"):
            return
        if roll < 0.15 and order.channel == "online":
            order.told(self.customer.call("order.cancel", order_id=order.id))
        elif roll < 0.45:
            pid = self.rng.choice(sorted(order.qty))
            qty = self.rng.randint(1, order.qty[pid])
            lines = [{"product_id": pid, "qty": qty}]
            order.told(self.clerk.call("clerk.refund", order_id=order.id, lines=lines, reason="x"))
        elif roll < 0.55:
            order.told(self.clerk.call("clerk.refund", order_id=order.id, reason="all of it"))
        elif roll < 0.7 and order.channel == "online":
            order.told(self.clerk.call("order.ship", order_id=order.id))

    def run(self) -> None:
        for _ in range(ORDERS):
            order = self.online() if self.rng.random() < 0.5 else self.pos()
            self.afterwards(order)


def expected(orders: list[Told]) -> dict[str, Any]:
    """The report's figures, summed here from what the clients were told."""
    zero = {"orders": 0, "units": 0, "total": 0}
    days = {
        (FIRST + timedelta(days=n)).isoformat(): dict(zero) for n in range((LAST - FIRST).days + 1)
    }
    channels = {"online": dict(zero), "pos": dict(zero)}
    methods = {"cash": dict(zero), "card": dict(zero), "ewallet": dict(zero)}
    overall = dict(zero)
    products: dict[int, list[int]] = {}
    for order in orders:
        left = {pid: units for pid, units in order.left().items() if units}
        if not left:
            continue
        units = sum(left.values())
        amount = sum(order.prices[pid] * n for pid, n in left.items())
        for totals in (
            overall,
            days[order.at.date().isoformat()],
            channels[order.channel],
            methods[order.method],
        ):
            totals["orders"] += 1
            totals["units"] += units
            totals["total"] += amount
        for pid, n in left.items():
            sums = products.setdefault(pid, [0, 0])
            sums[0] += n
            sums[1] += order.prices[pid] * n
    ranked = sorted(products.items(), key=lambda item: (-item[1][1], item[0]))
    return {
        **overall,
        "by_day": [{"day": day, **totals} for day, totals in days.items()],
        "by_channel": channels,
        "by_method": methods,
        "by_product": [{"product_id": p, "units": u, "total": t} for p, (u, t) in ranked],
    }


def backdate(url: str, orders: list[Told]) -> None:
    with opened(url) as db:
        mark = "?" if url.startswith("sqlite") else "%s"
        for order in orders:
            db.execute_sql(
                f"UPDATE orders SET created_at = {mark} WHERE id = {mark}",
                (str(order.at), order.id),
            )


@pytest.mark.parametrize("seed", [1, 2])
def test_the_report_equals_the_sums_of_a_random_workload_over_several_days(
    servers: Servers, db_url: str, seed: int
) -> None:
    init_demo(db_url)
    products = [
        add_product(db_url, f"REPORT-{n}", 100_000, price) for n, price in enumerate(PRICES)
    ]
    server = servers.start(db_url=db_url)
    with (
        server.client("customer") as customer,
        server.client("clerk") as clerk,
        server.client("admin") as admin,
    ):
        clerk.call("clerk.register.open", station="report", opening_cash=0)
        workload = Workload(seed, products, customer, clerk)
        workload.run()
        backdate(db_url, workload.orders)
        report = admin.call(
            "admin.report.sales", **{"from": FIRST.isoformat(), "to": LAST.isoformat()}
        )
        top = admin.call(
            "admin.report.sales", **{"from": FIRST.isoformat(), "to": LAST.isoformat(), "top": 1}
        )

    want = expected(workload.orders)
    statuses = Counter(order.status for order in workload.orders)
    assert {"paid", "shipped", "completed", "cancelled", "refunded"} <= set(statuses), statuses
    assert any(o.status in COUNTED and o.refunded.total() for o in workload.orders)
    assert (report["from"], report["to"], report["currency"]) == ("2026-03-27", "2026-04-02", "IDR")
    for key in ("orders", "units", "total", "by_day", "by_channel", "by_method"):
        assert report[key] == want[key], key
    sold = [{k: p[k] for k in ("product_id", "units", "total")} for p in report["by_product"]]
    assert sold == want["by_product"]
    assert report["products"] == len(want["by_product"])
    assert {p["sku"] for p in report["by_product"]} <= {f"REPORT-{n}" for n in range(4)}
    assert top["by_product"] == report["by_product"][:1] and top["products"] == report["products"]
    assert 0 < report["orders"] < len(workload.orders), "some orders are outside or not sales"


def test_a_range_backwards_or_longer_than_366_days_is_refused(shop) -> None:
    with shop.client("admin") as admin:
        with pytest.raises(BadRequest) as backwards:
            admin.call("admin.report.sales", **{"from": "2026-04-02", "to": "2026-04-01"})
        with pytest.raises(BadRequest) as too_long:
            admin.call("admin.report.sales", **{"from": "2024-01-01", "to": "2025-01-01"})
        leap_year = admin.call("admin.report.sales", **{"from": "2024-01-01", "to": "2024-12-31"})
    assert backwards.value.details == {"field": "to", "rule": "must not be before 'from'"}
    assert too_long.value.details == {
        "field": "to",
        "rule": "must be at most 365 days after 'from'",
    }
    assert len(leap_year["by_day"]) == 366 and leap_year["total"] == 0
