"""Sales on known days for the report's tests: real orders through a real server (online
checkouts, point-of-sale sales, a partial refund), then moved back in the database to the
day each belongs to, so that every run shows the same report."""

from __future__ import annotations

import secrets
from datetime import date, datetime, time
from typing import Any

import pytest

from client_tui import report
from tests.e2e.harness import ServerProcess
from tests.e2e.shopdb import opened

TODAY = date(2026, 3, 7)
SALES: list[tuple[date, str, str, dict[str, int]]] = [
    # the day, online or pos, the payment method, units by sku
    (date(2026, 2, 20), "online", "card", {"MIE-0004": 5}),  # in 30 days, not in 7
    (date(2026, 3, 1), "online", "card", {"MIE-0001": 2, "KOP-0002": 1}),
    (date(2026, 3, 3), "pos", "cash", {"KOP-0002": 3}),
    (date(2026, 3, 3), "pos", "card", {"MIE-0001": 1}),
    (date(2026, 3, 4), "online", "ewallet", {"AIR-0006": 6}),
    (date(2026, 3, 5), "pos", "cash", {"MIE-0003": 4}),  # one unit refunded later
    (date(2026, 3, 7), "pos", "cash", {"MIE-0001": 2}),
]


def fixed_today(monkeypatch: pytest.MonkeyPatch) -> None:
    """The app's today is TODAY, so that its presets name the seeded days."""
    monkeypatch.setattr(report, "today", lambda: TODAY)


def seed_sales(server: ServerProcess) -> list[dict[str, Any]]:
    """Make SALES on `server` (a shop of the test's own) and backdate them; the orders as
    they stand after (the refund included), each with `day` added."""
    orders = []
    with server.client("customer") as customer, server.client("clerk") as clerk:
        clerk.call("clerk.register.open", station="report", opening_cash=0)
        for day, channel, method, lines in SALES:
            ids = {sku: clerk.call("catalog.get", sku=sku)["id"] for sku in lines}
            if channel == "online":
                customer.call("cart.clear")
                for sku, qty in lines.items():
                    customer.call("cart.add", product_id=ids[sku], qty=qty)
                order = customer.checkout({"method": method, "token": "tok"})
            else:
                payment = (
                    {"method": method} if method == "cash" else {"method": method, "token": "t"}
                )
                order = clerk.call(
                    "clerk.sale",
                    lines=[{"product_id": ids[sku], "qty": qty} for sku, qty in lines.items()],
                    payment=payment,
                    idempotency_key=secrets.token_hex(8),
                )
            orders.append({**order, "day": day})
        last = orders[-2]
        refund = [{"product_id": last["lines"][0]["product_id"], "qty": 1}]
        orders[-2] = {
            **clerk.call("clerk.refund", order_id=last["id"], lines=refund, reason="broken"),
            "day": last["day"],
        }
    with opened(server.db_url) as db:
        for order in orders:
            at = str(datetime.combine(order["day"], time(10, 30)))
            db.execute_sql("UPDATE orders SET created_at = ? WHERE id = ?", (at, order["id"]))
    return orders


def net(order: dict[str, Any]) -> int:
    """An order's amount net of its refunds."""
    return sum(ln["unit_price"] * (ln["qty"] - ln["refunded_qty"]) for ln in order["lines"])
