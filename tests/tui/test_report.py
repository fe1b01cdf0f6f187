"""The admin's sales report (F7) against a real server: the presets and a chosen range show
the server's figures for those days, the chart has a bar per day, and the export writes the
CSV where the dialog says."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import DataTable, Input, Label, Static

from client_tui.screens.confirm import ConfirmScreen
from client_tui.screens.report import ExportScreen, RangeScreen
from client_tui.widgets.report import DayChart, ReportView
from tests.e2e.harness import ServerProcess
from tests.tui.pilot import customer_with_order, make_app, notified, shop_of, sign_in, wait_for
from tests.tui.report_pilot import fixed_today, net, seed_sales


def between(orders: list[dict[str, Any]], first: date, last: date) -> list[dict[str, Any]]:
    return [order for order in orders if first <= order["day"] <= last]


async def report_of(pilot: Any, first: date, last: date) -> ReportView:
    """The report view once it shows the report of `first` to `last`."""
    view = pilot.app.screen.query_one("#report-view", ReportView)
    span = {"from": first.isoformat(), "to": last.isoformat()}
    await wait_for(
        pilot,
        lambda: view.report and {k: view.report[k] for k in span} == span,
        f"the report of {span}",
    )
    return view


def totals_text(view: ReportView) -> str:
    return str(view.query_one("#report-totals", Static).content)


async def test_the_presets_and_a_chosen_range_show_the_sales_of_their_days(
    fresh_shop: ServerProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    fixed_today(monkeypatch)
    orders = seed_sales(fresh_shop)
    app = make_app(fresh_shop)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot, "admin", fresh_shop.passwords["admin"])
        await pilot.press("f7")
        money = shop_of(app).money.format

        week = await report_of(pilot, date(2026, 3, 1), date(2026, 3, 7))  # the first shown
        sold = between(orders, date(2026, 3, 1), date(2026, 3, 7))
        assert week.report is not None and week.report["total"] == sum(map(net, sold))
        assert f"{len(sold)} orders" in totals_text(week)
        assert money(sum(map(net, sold))) in totals_text(week)
        pos = sum(net(o) for o in sold if o["channel"] == "pos")
        assert f"Point of sale {money(pos)}" in totals_text(week)
        chart = week.query_one(DayChart)
        assert [d["total"] for d in chart.by_day] == [
            sum(net(o) for o in sold if o["day"].day == n) for n in range(1, 8)
        ]
        table = week.query_one("#report-products", DataTable)
        assert table.row_count == len(week.report["by_product"]) > 0
        assert table.has_focus, "F7 puts the keys in the report"

        await pilot.press("t")
        today = await report_of(pilot, date(2026, 3, 7), date(2026, 3, 7))
        assert today.report is not None and today.report["orders"] == 1
        assert "Today: 2026-03-07" in str(today.query_one("#report-range", Label).content)

        await pilot.press("m")
        month = await report_of(pilot, date(2026, 2, 6), date(2026, 3, 7))
        assert month.report is not None and month.report["total"] == sum(map(net, orders))

        await pilot.press("g")
        dialog = await wait_for(
            pilot, lambda: isinstance(app.screen, RangeScreen) and app.screen, "the range dialog"
        )
        dialog.query_one("#range-from", Input).value = "2026-03-04"
        dialog.query_one("#range-to", Input).value = "2026-03-01"
        await pilot.press("enter")  # in the first field: on to the second
        await pilot.press("enter")
        problem = dialog.query_one("#range-problem", Label)
        assert problem.display and "before the first" in str(problem.content)
        dialog.query_one("#range-to", Input).value = "2026-03-05"
        await wait_for(pilot, lambda: not problem.display, "the old days' problem gone")
        await pilot.press("enter")
        chosen = await report_of(pilot, date(2026, 3, 4), date(2026, 3, 5))
        assert chosen.report is not None
        march_4_5 = between(orders, date(2026, 3, 4), date(2026, 3, 5))
        assert chosen.report["total"] == sum(map(net, march_4_5))
        assert chosen.report["units"] == 6 + 3, "4 units sold on the 5th, one refunded"


async def test_export_writes_the_report_as_csv_where_the_dialog_says(
    fresh_shop: ServerProcess, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fixed_today(monkeypatch)
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    monkeypatch.setenv("XDG_DOWNLOAD_DIR", str(downloads))
    orders = seed_sales(fresh_shop)
    app = make_app(fresh_shop)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot, "admin", fresh_shop.passwords["admin"])
        await pilot.press("f7")
        view = await report_of(pilot, date(2026, 3, 1), date(2026, 3, 7))
        await pilot.press("e")
        dialog = await wait_for(
            pilot, lambda: isinstance(app.screen, ExportScreen) and app.screen, "the dialog"
        )
        default = downloads / "warung-sales-2026-03-01-2026-03-07.csv"
        assert dialog.query_one("#export-path", Input).value == str(default)
        await pilot.press("enter")
        await wait_for(pilot, lambda: notified(app, str(default)), "the saved path shown")
        assert view.report is not None

    rows = list(csv.reader(default.open(newline="", encoding="utf-8")))
    assert rows[0] == ["day", "orders", "units", "total (IDR)"]
    days = {row[0]: row for row in rows[1:8]}
    assert list(days) == [f"2026-03-0{n}" for n in range(1, 8)]
    march_3 = between(orders, date(2026, 3, 3), date(2026, 3, 3))
    amount = sum(map(net, march_3))
    assert days["2026-03-03"] == ["2026-03-03", "2", "4", f"{amount // 100}.{amount % 100:02d}"]
    assert rows[8][:3] == ["all days", "6", str(view.report["units"])]
    products = rows[rows.index(["sku", "name", "units", "total"]) + 1 :]
    assert [row[0] for row in products] == [p["sku"] for p in view.report["by_product"]]


async def test_export_says_why_it_cannot_save_and_stays_open(
    fresh_shop: ServerProcess, tmp_path: Path
) -> None:
    app = make_app(fresh_shop)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot, "admin", fresh_shop.passwords["admin"])
        await pilot.press("f7")
        view = app.screen.query_one("#report-view", ReportView)
        await wait_for(pilot, lambda: view.report, "the report")
        await pilot.press("e")
        dialog = await wait_for(
            pilot, lambda: isinstance(app.screen, ExportScreen) and app.screen, "the dialog"
        )
        dialog.query_one("#export-path", Input).value = str(blocker / "sales.csv")
        await pilot.press("enter")
        problem = dialog.query_one("#export-problem", Label)
        await wait_for(pilot, lambda: problem.display, "the problem shown")
        assert "Cannot save there" in str(problem.content) and app.screen is dialog


async def test_export_asks_before_it_replaces_a_file(
    fresh_shop: ServerProcess, tmp_path: Path
) -> None:
    app = make_app(fresh_shop)
    kept = tmp_path / "sales.csv"
    kept.write_text("last month's\n")
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot, "admin", fresh_shop.passwords["admin"])
        await pilot.press("f7")
        view = app.screen.query_one("#report-view", ReportView)
        await wait_for(pilot, lambda: view.report, "the report")
        await pilot.press("e")
        dialog = await wait_for(
            pilot, lambda: isinstance(app.screen, ExportScreen) and app.screen, "the dialog"
        )
        dialog.query_one("#export-path", Input).value = str(kept)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the question")
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is dialog, "back in the dialog")
        assert kept.read_text() == "last month's\n"
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the question")
        await pilot.press("enter")
        await wait_for(pilot, lambda: notified(app, str(kept)), "the saved path shown")
    assert kept.read_text().startswith("day,orders,units,total (IDR)")


async def test_the_report_is_read_again_when_its_tab_comes_back(fresh_shop: ServerProcess) -> None:
    app = make_app(fresh_shop)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot, "admin", fresh_shop.passwords["admin"])
        await pilot.press("f7")
        view = pilot.app.screen.query_one("#report-view", ReportView)
        await wait_for(pilot, lambda: view.report is not None, "the first report")
        assert view.report is not None
        before = view.report["orders"]
        await pilot.press("f4")
        customer_with_order(fresh_shop, "MIE-0007")  # sold meanwhile, today
        await pilot.press("f7")
        await wait_for(
            pilot, lambda: (view.report or {}).get("orders") == before + 1, "today's new order"
        )
