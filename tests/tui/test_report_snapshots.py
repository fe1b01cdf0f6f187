"""Pictures of the admin's sales report at 80x24 (pytest-textual-snapshot): the last 7 and
30 days of a demo shop of its own, with sales on known days, their chart (a labelled bar per
day; narrow bars between the first and last day) and the top products.

After a deliberate change of the look: `pytest tests/tui/test_report_snapshots.py
--snapshot-update`, and review the SVGs in `__snapshots__/`.
"""

from __future__ import annotations

import pytest

from client_tui.widgets.report import ReportView
from tests.e2e.harness import ServerProcess
from tests.tui.pilot import make_app, sign_in, wait_for
from tests.tui.report_pilot import fixed_today, seed_sales
from tests.tui.test_snapshots import steady


def test_sales_report_of_7_days(
    snap_compare, fresh_shop: ServerProcess, monkeypatch: pytest.MonkeyPatch
):
    fixed_today(monkeypatch)
    seed_sales(fresh_shop)

    async def run_before(pilot):
        await sign_in(pilot, "admin", fresh_shop.passwords["admin"])
        await pilot.press("f7")
        view = pilot.app.screen.query_one("#report-view", ReportView)
        await wait_for(pilot, lambda: view.report and view.report["orders"] == 6, "the report")
        await steady(pilot)

    assert snap_compare(make_app(fresh_shop), run_before=run_before, terminal_size=(80, 24))


def test_sales_report_of_30_days(
    snap_compare, fresh_shop: ServerProcess, monkeypatch: pytest.MonkeyPatch
):
    fixed_today(monkeypatch)
    seed_sales(fresh_shop)

    async def run_before(pilot):
        await sign_in(pilot, "admin", fresh_shop.passwords["admin"])
        await pilot.press("f7")
        view = pilot.app.screen.query_one("#report-view", ReportView)
        await wait_for(pilot, lambda: view.report and view.report["orders"] == 6, "7 days")
        await pilot.press("m")
        await wait_for(pilot, lambda: view.report and view.report["orders"] == 7, "30 days")
        await steady(pilot)

    assert snap_compare(make_app(fresh_shop), run_before=run_before, terminal_size=(80, 24))
