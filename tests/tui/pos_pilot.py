"""Helpers for driving the point of sale with the pilot against a real server."""

from __future__ import annotations

import io
from typing import Any

from rich.console import Console
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widgets import Digits, Input, Static

from client_tui.screens.confirm import ConfirmScreen
from client_tui.screens.pay import PayScreen
from client_tui.screens.till import TillOpenScreen
from client_tui.till import TillStatus
from client_tui.widgets.pos import PosView
from tests.e2e.harness import ServerProcess
from tests.tui.pilot import Account, shop_of, sign_in, wait_for, warung


def demo_clerk(server: ServerProcess) -> Account:
    """The demo's clerk. Its till is its own on that server: a test that opens one runs
    on a shop of its own (`fresh_shop`)."""
    return Account("clerk", server.passwords["clerk"])


def pos(app: Any) -> PosView:
    return app.screen.query_one("#pos-view", PosView)


def total_digits(app: Any) -> str:
    return pos(app).query_one("#pos-total", Digits).value


def table_text(static: Static) -> str:
    """What a Static holding a rich table shows, as plain text."""
    console = Console(width=70, file=io.StringIO(), record=True)
    console.print(static.content)
    return console.export_text()


class Keys:
    """Presses keys for a test and counts those beyond typing SKUs and names."""

    def __init__(self, pilot: Pilot[Any]) -> None:
        self.pilot = pilot
        self.counted = 0

    async def type(self, text: str) -> None:
        """Type into the focused field, as a person or a scanner would; not counted."""
        await self.pilot.press(*text)

    async def press(self, *keys: str) -> None:
        self.counted += len(keys)
        await self.pilot.press(*keys)

    async def scan(self, entry: str, lines: int) -> None:
        """Type an entry, Enter (counted), and wait until the ticket has `lines` lines."""
        view = pos(self.pilot.app)
        await self.type(entry)
        await self.press("enter")
        await wait_for(self.pilot, lambda: len(view.ticket.lines) == lines, f"{entry} added")


async def at_the_till(pilot: Pilot[Any]) -> PosView:
    """Wait until the point of sale is shown with the entry line focused, and has asked
    the server for the clerk's open till (open or not)."""
    app = warung(pilot)
    view = await wait_for(pilot, lambda: app.screen.query("#pos-view") and pos(app), "the till")
    entry = view.query_one("#entry", Input)
    await wait_for(pilot, lambda: entry.has_focus, "the entry line focused")
    await wait_for(pilot, lambda: shop_of(app).till.status != TillStatus.UNKNOWN, "the till read")
    return view


async def selling(pilot: Pilot[Any], server: ServerProcess) -> PosView:
    """Signed in as the demo clerk, at the point of sale with the till open (F8, opening
    cash Rp 100.000)."""
    await sign_in(pilot, *demo_clerk(server))
    view = await at_the_till(pilot)
    await open_till(pilot)
    return view


async def screen_of(pilot: Pilot[Any], kind: type[Screen[Any]]) -> Any:
    """Wait until the screen on top is a `kind`, and return it."""
    app = pilot.app
    return await wait_for(pilot, lambda: isinstance(app.screen, kind) and app.screen, kind.__name__)


async def open_till(pilot: Pilot[Any], cash: str = "100000", station: str = "kasir-1") -> None:
    """F8, the station and the opening cash, Enter; waits until the till is open."""
    app = warung(pilot)
    await pilot.press("f8")
    dialog = await screen_of(pilot, TillOpenScreen)
    dialog.query_one("#station", Input).value = station
    await pilot.press(*cash, "enter")
    await wait_for(pilot, lambda: shop_of(app).till.status == TillStatus.OPEN, "the till open")
    await wait_for(pilot, lambda: not isinstance(app.screen, TillOpenScreen), "the dialog gone")


def sales_on_server(server: ServerProcess) -> list[dict[str, Any]]:
    """The point-of-sale orders the server holds, newest first (one page is enough here)."""
    with server.client("clerk") as client:
        orders = client.call("order.list", limit=100)["items"]
    return [order for order in orders if order["channel"] == "pos"]


async def cash_exact(pilot: Pilot[Any]) -> PayScreen:
    """F5, Enter for the exact amount, Enter to the question: the pay dialog, the sale sent."""
    await pilot.press("f5")
    dialog = await screen_of(pilot, PayScreen)
    await pilot.press("enter")
    await screen_of(pilot, ConfirmScreen)
    await pilot.press("enter")
    return dialog
