"""Shortfalls in Inventory (`s`), against a real server: an offline sale sold more than the
stock held; staff see the shortfall and resolve it with a reason and a stock correction,
after a question naming the product and the units."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from textual.widgets import DataTable, Input, Label

from client_tui import timefmt
from client_tui.screens.confirm import ConfirmScreen
from client_tui.screens.shortfalls import ShortfallsScreen
from tests.e2e.harness import ServerProcess
from tests.tui.pilot import make_app, product_by_sku, sign_in, wait_for


def sell_offline(server: ServerProcess, sku: str, more: int, receipt: str) -> dict[str, Any]:
    """The clerk's till sends a sale it rang up offline: `more` units than the stock held."""
    product = product_by_sku(server, sku)
    with server.client("clerk") as clerk:
        clerk.call(
            "clerk.sale",
            lines=[{"sku": sku, "qty": product["stock"] + more}],
            payment={"method": "cash"},
            idempotency_key=f"offline-{receipt}",
            offline_at=datetime.now(UTC),
            receipt=receipt,
        )
    return product


async def open_shortfalls(pilot: Any, role: str, server: ServerProcess) -> ShortfallsScreen:
    app = pilot.app
    await sign_in(pilot, role, server.passwords[role])
    await pilot.press("f2")
    await wait_for(pilot, lambda: app.screen.query_one("#catalog-view").loaded, "Inventory")
    await pilot.press("s")
    screen = await wait_for(
        pilot, lambda: isinstance(app.screen, ShortfallsScreen) and app.screen, "the list"
    )
    table = screen.query_one("#shortfalls", DataTable)
    await wait_for(pilot, lambda: table.row_count, "the open shortfalls")
    return screen


async def test_a_shortfall_is_resolved_after_a_question_naming_product_and_units(fresh_shop):
    product = sell_offline(fresh_shop, "MIE-0003", 3, "K1-000042")
    app = make_app(fresh_shop)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_shortfalls(pilot, "clerk", fresh_shop)
        table = screen.query_one("#shortfalls", DataTable)
        assert table.row_count == 1
        row = [str(cell) for cell in table.get_row_at(0)]
        assert row[0].startswith(f"MIE-0003 {product['name'][:10]}")
        assert row[1:3] == ["3 units", "K1-000042"]
        screen.query_one("#shortfall-delta", Input).value = "2"
        screen.query_one("#shortfall-reason", Input).value = "delivery not booked"
        screen.query_one("#shortfall-reason", Input).focus()
        await pilot.press("enter")
        question = await wait_for(
            pilot, lambda: isinstance(app.screen, ConfirmScreen) and app.screen, "the question"
        )
        what = str(question.query_one("#confirm-what").render())
        assert product["name"] in what and "3 units" in what and "from 0 to 2" in what
        assert str(question.query_one("#confirm-amount", Label).render()) == "3 units short"
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is screen, "back in the list")
        assert product_by_sku(fresh_shop, "MIE-0003")["stock"] == 0, "nothing sent"

        await pilot.press("enter")  # the reason still has the focus: ask again
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the question")
        await pilot.press("enter")
        count = screen.query_one("#shortfalls-count", Label)
        await wait_for(pilot, lambda: "No open" in str(count.render()), "the list emptied")
        assert table.row_count == 0
    assert product_by_sku(fresh_shop, "MIE-0003")["stock"] == 2
    with fresh_shop.client("admin") as admin:
        assert admin.call("clerk.shortfall.list")["open"] == 0


async def test_admins_see_the_shortfalls_too_and_a_reason_is_required(fresh_shop):
    sell_offline(fresh_shop, "MIE-0004", 1, "K2-7")
    app = make_app(fresh_shop)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_shortfalls(pilot, "admin", fresh_shop)
        screen.query_one("#shortfall-reason", Input).focus()
        await pilot.press("enter")
        problem = screen.query_one("#shortfall-problem", Label)
        await wait_for(pilot, lambda: problem.display, "the refusal")
        assert "reason" in str(problem.render())
        assert app.screen is screen
    with fresh_shop.client("admin") as admin:
        assert admin.call("clerk.shortfall.list")["open"] == 1


@pytest.fixture
def fixed_times(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(timefmt, "when", lambda moment: "25 Nov 09:30" if moment else "")


def test_shortfalls_picture(snap_compare, fresh_shop, fixed_times) -> None:
    sell_offline(fresh_shop, "MIE-0003", 3, "K1-000042")
    sell_offline(fresh_shop, "MIE-0004", 1, "K1-000043")

    async def run_before(pilot: Any) -> None:
        await open_shortfalls(pilot, "clerk", fresh_shop)
        for field in pilot.app.screen.query(Input):
            field.cursor_blink = False
        pilot.app.clear_notifications()
        await pilot.pause()

    assert snap_compare(make_app(fresh_shop), run_before=run_before, terminal_size=(80, 24))
