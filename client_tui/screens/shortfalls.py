"""Open shortfalls, for staff: units offline sales sold that the stock did not hold
(PROTOCOL.md section 11.11), each resolved with a reason and, if the shelf count calls for
it, a stock correction, after a question naming the product and the units.
"""

from __future__ import annotations

from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, DataTable, Footer, Input, Label

from client_tui import timefmt
from client_tui.errors import CALL_ERRORS, describe, end_if_signed_out
from client_tui.orderfmt import units
from client_tui.retrykey import RetryKey
from client_tui.screens.confirm import ConfirmScreen
from client_tui.screens.dialog import Dialog, field_row, highlighted, row_table
from client_tui.shop import Shop
from protocol.errors import OutOfStock

COLUMNS = (  # key, label, width: together they fit the dialog at 80 columns
    ("product", "Product", 30),
    ("short", "Short", 9),
    ("receipt", "Receipt", 11),
    ("at", "Rung up", 12),
)


class ShortfallsScreen(Dialog[None]):
    """The open shortfalls; Enter on the reason resolves the highlighted one."""

    NAME = "shortfall"
    AUTO_FOCUS = "#shortfalls"

    def __init__(self, shop: Shop) -> None:
        super().__init__()
        self.shop = shop
        self.items: dict[str, dict[str, Any]] = {}
        self.retry = RetryKey()

    def compose(self) -> ComposeResult:
        with Vertical(id="shortfalls-dialog", classes="dialog") as dialog:
            dialog.border_title = "Shortfalls: sold offline, not in stock"
            yield Label("", id="shortfalls-count")
            yield row_table("shortfalls", COLUMNS)
            yield field_row(
                "Correct (+/-)",
                Input("0", type="integer", max_length=8, id="shortfall-delta", compact=True),
            )
            yield field_row(
                "Reason",
                Input(
                    placeholder="what happened: miscount, delivery not booked…",
                    max_length=200,
                    id="shortfall-reason",
                    compact=True,
                ),
            )
            yield self.problem_line()
            with Horizontal(classes="buttons"):
                yield Button("Resolve", id="shortfall-resolve", variant="primary", compact=True)
                yield Button("Back", id="shortfall-back", compact=True)
        yield Footer()

    def on_mount(self) -> None:
        self.load()

    @work(exclusive=True, group="shortfalls-load")
    async def load(self) -> None:
        try:
            found = await self.shop.shortfalls()
        except CALL_ERRORS as error:
            self.show_problem(describe(error))
            end_if_signed_out(self, error)
            return
        table = self.query_one("#shortfalls", DataTable)
        table.clear()
        self.items = {}
        for item in found["items"]:
            key = str(item["id"])
            self.items[key] = item
            table.add_row(
                _cut(f"{item['sku']} {item['name']}", COLUMNS[0][2]),
                units(item["qty"]),
                item["receipt"],
                timefmt.when(item["offline_at"]),
                key=key,
            )
        count = found["open"]
        self.query_one("#shortfalls-count", Label).update(
            f"{count} open · a sale made offline sold these units with none in stock"
            if count
            else "No open shortfalls."
        )

    @property
    def highlighted(self) -> dict[str, Any] | None:
        return highlighted(self.query_one("#shortfalls", DataTable), self.items)

    @on(DataTable.RowSelected, "#shortfalls")
    @on(Input.Submitted, "#shortfall-delta")
    def _to_reason(self) -> None:
        self.query_one("#shortfall-reason", Input).focus()

    @on(Button.Pressed, "#shortfall-resolve")
    @on(Input.Submitted, "#shortfall-reason")
    def _resolve_pressed(self) -> None:
        item = self.highlighted
        text = self.query_one("#shortfall-delta", Input).value.strip() or "0"
        reason = self.query_one("#shortfall-reason", Input).value.strip()
        if item is None:
            self.show_problem("No shortfall is open.")
        elif not text.lstrip("+-").isdigit():
            self.show_problem("Enter the units to add (+) or take away (-), or 0.")
        elif not reason:
            self.show_problem("Enter a reason: it is kept with the resolution.")
            self.query_one("#shortfall-reason", Input).focus()
        else:
            self._resolve(item, int(text), reason)

    @work(exclusive=True, group="shortfall-resolve")
    async def _resolve(self, item: dict[str, Any], delta: int, reason: str) -> None:
        if not await self.app.push_screen_wait(self._question(item, delta)):
            return
        key = self.retry.key(item["id"], delta, reason)
        try:
            await self.shop.resolve_shortfall(item["id"], delta, reason, key)
        except OutOfStock as error:
            available = error.details.get("available", 0)
            self.show_problem(f"Only {units(available)} in stock: that many at most can go.")
            return
        except CALL_ERRORS as error:
            self.failed(error, "it counts once")
            return
        self.app.notify(f"{item['name']}: {units(item['qty'])} short.", title="Resolved")
        self.query_one("#shortfall-reason", Input).value = ""
        self.query_one("#shortfall-delta", Input).value = "0"
        self.query_one("#shortfall-problem", Label).display = False
        self.load()

    @staticmethod
    def _question(item: dict[str, Any], delta: int) -> ConfirmScreen:
        name, short = f"{item['name']} ({item['sku']})", units(item["qty"])
        correction = (
            f" The stock is corrected by {delta:+d}, from {item['stock']} to "
            f"{item['stock'] + delta}."
            if delta
            else " The stock stays as it is."
        )
        return ConfirmScreen(
            f"Resolve the shortfall of {name}?",
            f"Receipt {item['receipt']} sold {short} of {name} with none in stock." + correction,
            f"{short} short",
            go="Resolve",
        )


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
