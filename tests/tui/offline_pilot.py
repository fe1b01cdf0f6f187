"""Helpers for driving the till offline: signing in with a kept session, a cash sale by
keys, and what the server holds of the sales afterwards."""

from __future__ import annotations

import contextlib
import sqlite3
from datetime import datetime, timedelta
from typing import Any

from textual.pilot import Pilot
from textual.widgets import Checkbox, Input

from client_tui.app import WarungApp
from client_tui.connection import Target
from client_tui.offline_queue import QUEUE_FILE
from client_tui.paths import data_dir
from client_tui.screens.confirm import ConfirmScreen
from client_tui.screens.pay import PayScreen
from client_tui.screens.receipt import ReceiptScreen
from client_tui.settings import Settings
from client_tui.till import TillStatus
from client_tui.widgets.pos import PosView
from tests.e2e.harness import ServerProcess
from tests.tui.pilot import shop_of, still, wait_for, warung
from tests.tui.pos_pilot import pos, screen_of

PREFIX = "K1"


def till_app(port: int) -> WarungApp:
    """The clerk's `warung` on `port` (a proxy the test cuts), station prefix K1."""
    return still(WarungApp(Target("127.0.0.1", port), settings=Settings(), receipt_prefix=PREFIX))


async def sign_in_kept(pilot: Pilot[Any], username: str, password: str) -> None:
    """Sign in with *Stay signed in* ticked (a till restarted offline resumes from it)."""
    app = warung(pilot)
    await wait_for(pilot, lambda: app.screen.query("#username"), "the sign-in screen")
    app.screen.query_one("#username", Input).value = username
    app.screen.query_one("#password", Input).value = password
    app.screen.query_one("#stay", Checkbox).value = True
    app.screen.query_one("#password", Input).focus()
    await pilot.press("enter")
    await wait_for(pilot, lambda: app.screen.query("#pos-view"), "the point of sale")
    await wait_for(pilot, lambda: shop_of(app).till.status != TillStatus.UNKNOWN, "the till read")


async def sell_cash(pilot: Pilot[Any], skus: list[str], cash: str = "") -> ReceiptScreen:
    """Ring up `skus` (one each) and sell for `cash` (empty: the exact amount); returns
    the receipt shown, after Enter has gone back to the entry line."""
    app = pilot.app
    view = pos(app)
    for lines, sku in enumerate(skus, 1):
        await ring_up(pilot, view, sku, lines)
    return await pay_cash(pilot, cash)


async def ring_up(pilot: Pilot[Any], view: PosView, sku: str, lines: int) -> None:
    """Type `sku`, Enter, and wait until the ticket has `lines` lines."""
    await pilot.press(*sku, "enter")
    await wait_for(pilot, lambda: len(view.ticket.lines) == lines, f"{sku} on the ticket")


async def pay_cash(pilot: Pilot[Any], cash: str = "") -> ReceiptScreen:
    """Sell the ticket for `cash` (empty: the exact amount), as `sell_cash`."""
    app = pilot.app
    view = pos(app)
    await pilot.press("f5")
    await screen_of(pilot, PayScreen)
    await pilot.press(*cash, "enter")
    await screen_of(pilot, ConfirmScreen)
    await pilot.press("enter")
    receipt: ReceiptScreen = await screen_of(pilot, ReceiptScreen)
    await pilot.press("enter")
    await wait_for(pilot, lambda: view.entry.has_focus and not view.ticket.lines, "next sale")
    return receipt


def age_queued_sale(receipt: str, days: int = 31) -> None:
    """Make the till's queued sale `receipt` look rung up `days` ago: older than the server
    takes (30 days), it is then refused for good (`bad_request` on `offline_at`)."""
    with contextlib.closing(sqlite3.connect(data_dir() / QUEUE_FILE)) as db, db:
        [when] = db.execute("SELECT offline_at FROM sales WHERE receipt = ?", (receipt,)).fetchone()
        aged = datetime.fromisoformat(when) - timedelta(days=days)
        db.execute("UPDATE sales SET offline_at = ? WHERE receipt = ?", (aged.isoformat(), receipt))


def pos_sales(server: ServerProcess) -> list[dict[str, Any]]:
    """Every point-of-sale order on the server, oldest first."""
    orders: list[dict[str, Any]] = []
    cursor = None
    with server.client("clerk") as client:
        while True:
            args: dict[str, Any] = {"limit": 100}
            if cursor:
                args["cursor"] = cursor
            page = client.call("order.list", args)
            orders += page["items"]
            if not (cursor := page.get("next_cursor")):
                break
    return sorted((o for o in orders if o["channel"] == "pos"), key=lambda o: o["id"])
