"""The admin's Audit tab (F8) against a real server: pages, filters, new entries live, and
a picture of it at 80x24."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from rich.text import Text
from textual.widgets import Input
from textual.worker import WorkerCancelled

from client_tui import timefmt
from client_tui.audit_text import details
from client_tui.money import Money
from client_tui.screens.audit_entry import AuditEntryScreen
from client_tui.widgets import audit
from protocol.errors import Unavailable
from tests.e2e.harness import ServerProcess, wait_until
from tests.e2e.shopdb import opened
from tests.tui.pilot import make_app, notified, refuse, shop_of, sign_in, wait_for


def log_rows(server: ServerProcess) -> int:
    with opened(server.db_url) as db:
        return int(db.execute_sql("SELECT count(*) FROM audit_log").fetchone()[0])


def clerk_work(server: ServerProcess, *deltas: int) -> Callable[[], None]:
    """Sign the clerk in, wait for the sign-in's audit entry (written a second later, so the
    entries of the work come after it), then restock (+) or adjust (-) product 1."""
    before = log_rows(server)
    clerk = server.client("clerk")
    wait_until(lambda: log_rows(server) > before, what="the clerk's sign-in entry")
    for delta in deltas:
        if delta > 0:
            clerk.call("clerk.restock", product_id=1, qty=delta, reason="delivery")
        else:
            clerk.call("clerk.adjust", product_id=1, delta=delta, reason="broken")
    return clerk.close


async def open_audit(pilot: Any, server: ServerProcess) -> Any:
    await sign_in(pilot, "admin", server.passwords["admin"])
    await pilot.press("f8")
    view = pilot.app.screen.query_one("#audit-view", audit.AuditView)
    await wait_for(pilot, lambda: view.loaded, "the first page of the audit log")
    return view


async def apply_filter(pilot: Any, view: audit.AuditView, field_id: str, text: str) -> None:
    field = view.query_one(f"#{field_id}", Input)
    field.focus()
    field.value = text
    listing = view._listing
    await pilot.press("enter")
    await wait_for(pilot, lambda: view._listing > listing and view.loaded, f"{text!r} applied")


def actions(view: audit.AuditView) -> list[str]:
    table = view.table
    return [str(table.get_row_at(row)[3]) for row in range(table.row_count)]


async def test_the_audit_tab_pages_filters_and_shows_new_entries_live(
    fresh_shop: ServerProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(audit, "PAGE", 2)
    monkeypatch.setattr(audit, "POLL_S", 0.2)
    done = clerk_work(fresh_shop, 5, -1, 3, -2, 4)
    app = make_app(fresh_shop)
    async with app.run_test(size=(100, 30)) as pilot:
        view = await open_audit(pilot, fresh_shop)
        await pilot.press("end")  # pages load as the table nears its end
        await wait_for(pilot, lambda: view.table.row_count >= 6 and not view.table.more, "all")
        ids = [int(str(view.table.get_row_at(r)[0])) for r in range(view.table.row_count)]
        assert ids == sorted(ids, reverse=True) and len(set(ids)) == len(ids)

        await apply_filter(pilot, view, "audit-action", "clerk.adj")
        assert actions(view) == ["clerk.adjust", "clerk.adjust"]
        assert "delta=-2" in str(view.table.get_row_at(0)[5])

        with fresh_shop.client("clerk") as clerk:
            clerk.call("clerk.adjust", product_id=1, delta=-3, reason="lost")
            clerk.call("clerk.restock", product_id=1, qty=1, reason="found")
        await wait_for(pilot, lambda: len(actions(view)) == 3, "the new adjust, live")
        assert "delta=-3" in str(view.table.get_row_at(0)[5]), "newest first"
        assert actions(view) == ["clerk.adjust"] * 3, "the filter holds for live entries"

        assert {str(view.table.get_row_at(r)[2]) for r in range(3)} == {"clerk"}, "by name"
        first = view.query_one("#audit-from", Input)
        first.focus()
        first.value = "2026-13-01"
        await pilot.press("enter")
        await wait_for(pilot, lambda: notified(app, "from YYYY-MM-DD: not '2026-13-01'"), "no")
        assert view.filters == {"action": "clerk.adj"}, "a bad filter changes nothing"
        first.value = ""
        await apply_filter(pilot, view, "audit-user", "CLERK")  # a username, any case
        assert view.filters == {"action": "clerk.adj", "username": "CLERK"}
        assert actions(view) == ["clerk.adjust"] * 3
        await apply_filter(pilot, view, "audit-user", "#999999")  # a user id
        assert view.filters == {"action": "clerk.adj", "user_id": 999999}
        assert actions(view) == []
        assert str(view.query_one("#audit-empty").render()) == "No entries match these filters."
        user = view.query_one("#audit-user", Input)
        user.value = "#x"
        user.focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: notified(app, "user or #id: not '#x'"), "not an id")
        assert view.filters == {"action": "clerk.adj", "user_id": 999999}
    done()


@pytest.fixture
def fixed_times(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(timefmt, "when", lambda moment: "25 Nov 09:30" if moment else "")


def test_audit_tab_snapshot(snap_compare, fresh_shop: ServerProcess, fixed_times) -> None:
    done = clerk_work(fresh_shop, 5, -1, 3)

    async def run_before(pilot: Any) -> None:
        view = await open_audit(pilot, fresh_shop)
        await apply_filter(pilot, view, "audit-action", "clerk.")
        for field in pilot.app.screen.query(Input):
            field.cursor_blink = False
        pilot.app.clear_notifications()
        await pilot.pause()

    try:
        assert snap_compare(make_app(fresh_shop), run_before=run_before, terminal_size=(80, 24))
    finally:
        done()


def details_shown(view: audit.AuditView, text: str) -> bool:
    """Whether a row of the audit table holds `text` in its details."""
    table = view.table
    return any(text in str(table.get_row_at(i)[5]) for i in range(table.row_count))


async def a_whole_poll(view: Any) -> None:
    """Run a tick of the poll to its end; the timer's own tick may cancel it (the poll is
    exclusive), then another is run."""
    for _ in range(10):
        with contextlib.suppress(WorkerCancelled):
            await view._poll().wait()
            return
    raise AssertionError("every poll was cancelled by the next")


async def test_the_audit_tab_asks_the_server_only_while_it_is_in_front(
    fresh_shop: ServerProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(audit, "POLL_S", 0.1)
    app = make_app(fresh_shop)
    async with app.run_test(size=(100, 30)) as pilot:
        view = await open_audit(pilot, fresh_shop)
        asked: list[str] = []
        call = shop_of(app).client.call

        async def counted(op: str, args: Any = None, /, **kw: Any) -> Any:
            asked.append(op)
            return await call(op, args, **kw)

        monkeypatch.setattr(shop_of(app).client, "call", counted)
        await wait_for(pilot, lambda: "admin.audit.list" in asked, "a poll while in front")
        await pilot.press("f2")
        await wait_for(pilot, lambda: not view.is_on_screen, "the audit tab hidden")
        asked.clear()
        await a_whole_poll(view)
        assert "admin.audit.list" not in asked
        with fresh_shop.client("clerk") as clerk:
            clerk.call("clerk.adjust", product_id=1, delta=-1, reason="seen on return")
        await pilot.press("f8")
        # among the newest: the clerk's sign-in reaches the log after it
        await wait_for(pilot, lambda: details_shown(view, "delta=-1"), "the entry, on return")


def test_a_cell_too_long_for_its_column_is_cut_where_it_shows() -> None:
    entry = {
        "id": 9,
        "at": datetime(2026, 12, 1, 10, tzinfo=UTC),
        "user_id": 3,
        "action": "auth.totp.recovery_codes_replaced",
        "target": "register:1234567",
        "details": {"address": "10.0.0.1"},
    }
    _, _, _, action, target, details = audit.cells(entry, Money())
    assert isinstance(action, str) and isinstance(target, str) and isinstance(details, Text)
    assert len(action) == audit.ACTION_WIDTH and "…" in action
    assert action.startswith("auth.totp") and action.endswith("replaced")
    assert target == "re…:1234567" and len(target) == audit.TARGET_WIDTH
    assert (
        audit.cells({**entry, "action": "clerk.register.open"}, Money())[3] == "clerk.register.open"
    )
    assert str(details) == 'address="10.0.0.1"' and details.overflow == "ellipsis"


def test_amounts_in_the_details_read_as_amounts_and_the_rest_as_json() -> None:
    entry = {
        "details": {
            "total": 2050000,
            "method": "card",
            "price": [1000000, 1250000],  # a product's price changed
            "difference": -200000,
            "stock": 12,
            "summary": True,
        }
    }
    assert details(entry, Money("IDR", 2)) == (
        'total=20.500,00 method="card" price=10.000,00 → 12.500,00 '
        "difference=-2.000,00 stock=12 summary=true"
    )


async def test_enter_on_an_entry_shows_it_whole(fresh_shop: ServerProcess) -> None:
    done = clerk_work(fresh_shop, -2)
    app = make_app(fresh_shop)
    async with app.run_test(size=(80, 24)) as pilot:
        view = await open_audit(pilot, fresh_shop)
        await apply_filter(pilot, view, "audit-action", "clerk.adjust")
        view.table.focus()
        await pilot.press("enter")
        dialog = await wait_for(
            pilot, lambda: isinstance(app.screen, AuditEntryScreen) and app.screen, "the entry"
        )
        text = str(dialog.query_one("#audit-entry-text").render())
        lines = [" ".join(line.split()) for line in text.splitlines()]
        with fresh_shop.client("admin") as admin:
            people = admin.call("admin.user.list")["items"]
        clerk_id = next(p["id"] for p in people if p["username"] == "clerk")
        assert lines[1:4] == [
            f"Who clerk (user {clerk_id})",
            "Action clerk.adjust",
            "Target product:1",
        ]
        assert "delta -2" in lines and 'reason "broken"' in lines, lines
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, AuditEntryScreen), "closed")
    done()


async def test_after_a_page_that_failed_the_poll_goes_on(
    fresh_shop: ServerProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(audit, "POLL_S", 0.1)
    app = make_app(fresh_shop)
    async with app.run_test(size=(100, 30)) as pilot:
        view = await open_audit(pilot, fresh_shop)
        client = shop_of(app).client
        refused = refuse(client, "admin.audit.list", Unavailable("the database is busy", {}))
        view.action_reload()  # as `r` does: this read is refused
        await wait_for(pilot, lambda: refused, "the page refused")
        del client.call  # the server answers again
        with fresh_shop.client("clerk") as clerk:
            clerk.call("clerk.adjust", product_id=1, delta=-1, reason="seen after")
        await wait_for(pilot, lambda: details_shown(view, "delta=-1"), "the new entry")


async def test_at_80_columns_every_column_shows_beside_the_scrollbar(shop: ServerProcess) -> None:
    with shop.client("admin") as admin:
        for product_id in range(1, 26):  # more rows than the screen holds: a scrollbar
            admin.call("clerk.restock", product_id=product_id, qty=1, reason="delivery")
    app = make_app(shop)
    async with app.run_test(size=(80, 24)) as pilot:
        view = await open_audit(pilot, shop)
        table = view.table
        await wait_for(pilot, lambda: table.show_vertical_scrollbar, "the scrollbar")
        assert table.virtual_size.width <= table.scrollable_content_region.width, "no overflow"
        assert not table.show_horizontal_scrollbar
