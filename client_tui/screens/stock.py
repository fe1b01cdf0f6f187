"""Restock and adjust one product's stock, with a reason kept with the movement.

Restock receives units (a delivery); adjust corrects by a signed amount (a count, damage,
loss). Taking units away asks first, naming them. The dialog stays open on a refusal,
saying why, so the clerk can correct the numbers and try again.
"""

from __future__ import annotations

from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Footer, Input, Label

from client_tui.errors import CALL_ERRORS
from client_tui.hub import hub_of
from client_tui.orderfmt import units
from client_tui.retrykey import RetryKey
from client_tui.screens.confirm import ConfirmScreen
from client_tui.screens.dialog import Dialog, field_row
from client_tui.shop import Shop
from client_tui.stock import Level
from protocol.errors import OutOfStock


class StockScreen(Dialog[dict[str, Any] | None]):
    """`adjust` False: restock (units received); True: adjust by a signed amount.
    Dismissed with the product as the shop returned it, or None."""

    NAME = "stock"
    AUTO_FOCUS = "#stock-qty"

    def __init__(self, shop: Shop, product: dict[str, Any], *, adjust: bool) -> None:
        super().__init__()
        self.shop = shop
        self.product = product
        self.adjust = adjust
        self.busy = False
        self.retry = RetryKey()
        self.number_wrong = False  # the problem line says the number is wrong

    @property
    def stock(self) -> int:
        return self.shop.book.stock(self.product["id"], self.product["stock"])

    def compose(self) -> ComposeResult:
        verb = "Adjust stock" if self.adjust else "Restock"
        with Vertical(id="stock-dialog", classes="dialog") as dialog:
            dialog.border_title = f"{verb}: {self.product['name']}"
            yield Label("", id="stock-now")
            yield field_row(
                "Change (+/-)" if self.adjust else "Units received",
                Input(type="integer", max_length=8, id="stock-qty", compact=True),
            )
            yield field_row(
                "Reason",
                Input(
                    placeholder="stock count, damaged, lost…"
                    if self.adjust
                    else "delivery note number…",
                    max_length=200,
                    id="stock-reason",
                    compact=True,
                ),
            )
            yield self.problem_line()
            with Horizontal(classes="buttons"):
                yield Button(verb, id="stock-apply", variant="primary", compact=True)
                yield Button("Back", id="stock-back", compact=True)
        yield Footer()

    def on_mount(self) -> None:
        hub_of(self).stock_changed.subscribe(self, self._stock_changed)
        self._show_stock()

    def _stock_changed(self, levels: dict[int, Level]) -> None:
        if self.product["id"] in levels:
            self._show_stock()

    def _show_stock(self) -> None:
        self.query_one("#stock-now", Label).update(
            f"SKU {self.product['sku']} · {units(self.stock)} in stock now"
        )

    @on(Input.Changed, "#stock-qty")
    def _qty_changed(self) -> None:
        if self.number_wrong:  # said of a number since retyped
            self.number_wrong = False
            self.query_one("#stock-problem", Label).display = False

    def _wrong_number(self, text: str) -> None:
        self.show_problem(text)
        self.number_wrong = True
        self.query_one("#stock-qty", Input).focus()

    @on(Input.Submitted, "#stock-qty")
    def _qty_entered(self) -> None:
        """Enter: on to the reason, or, with one typed already (a number put right), apply."""
        if self.query_one("#stock-reason", Input).value.strip():
            self._apply_pressed()
        else:
            self.query_one("#stock-reason", Input).focus()

    @on(Button.Pressed, "#stock-apply")
    @on(Input.Submitted, "#stock-reason")
    def _apply_pressed(self) -> None:
        text = self.query_one("#stock-qty", Input).value.strip()
        reason = self.query_one("#stock-reason", Input).value.strip()
        count = int(text) if text.lstrip("+-").isdigit() else 0
        self.number_wrong = False
        if count == 0 or (count < 0 and not self.adjust):
            self._wrong_number(
                "Enter the units to add (+) or take away (-), not 0."
                if self.adjust
                else "Enter the number of units received."
            )
        elif not reason:
            self.show_problem("Enter a reason: it is kept with the stock movement.")
            self.query_one("#stock-reason", Input).focus()
        elif not self.busy:
            self._apply(count, reason)

    @work(exclusive=True, group="stock-change")
    async def _apply(self, count: int, reason: str) -> None:
        if count < 0 and not await self._can_take(-count):
            return
        if count < 0 and not await self.app.push_screen_wait(self._take_away_question(-count)):
            return
        self.busy = True
        key = self.retry.key(count, reason)
        change = self.shop.adjust if self.adjust else self.shop.restock
        try:
            product = await change(self.product["id"], count, reason, key)
        except OutOfStock as error:
            self._wrong_number(too_many_out(error.details.get("available", 0)))
            return
        except CALL_ERRORS as error:
            self.failed(error, "it counts once")
            return
        finally:
            self.busy = False
        self.app.notify(
            f"{self.product['name']}: {count:+d}, {units(product['stock'])} in stock now.",
            title="Stock adjusted" if self.adjust else "Restocked",
        )
        self.dismiss(product)

    async def _can_take(self, count: int) -> bool:
        """Whether `count` units can go, before asking: more than the product shows is
        asked of the shop first (a stock push missed), and refused here if it says so too."""
        if count <= self.stock:
            return True
        try:
            stock = (await self.shop.product(self.product["id"]))["stock"]
        except CALL_ERRORS:
            return True  # the change itself will say
        if count <= stock:
            return True
        self._wrong_number(too_many_out(stock))
        return False

    def _take_away_question(self, count: int) -> ConfirmScreen:
        name, stock = self.product["name"], self.stock
        return ConfirmScreen(
            f"Take {units(count)} out of stock?",
            f"{units(count)} of {name} ({self.product['sku']}) taken out of stock: from "
            f"{stock} to {stock - count}. Only another adjustment brings them back.",
            f"-{units(count)}",
            go="Take out",
        )


def too_many_out(stock: int) -> str:
    return f"Only {units(stock)} in stock: that many at most can go."
