"""Staff open any order by its number (on the receipt: `Order 42`), to see it, ship it or
refund it: a customer back at the counter with a receipt, an online order asked about."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Input, Label

MAX_ORDER_DIGITS = 16  # order ids go to 2^53 (PROTOCOL.md)


class FindOrderScreen(ModalScreen[int | None]):
    """Dismissed with the order number typed, or None to back out."""

    AUTO_FOCUS = "#order-number"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss(None)", "Back")]

    def compose(self) -> ComposeResult:
        with Vertical(id="find-order-dialog", classes="dialog") as dialog:
            dialog.border_title = "Open an order"
            yield Label("Its number, as the receipt or the order list shows it.", id="find-hint")
            with Horizontal(classes="field-row"):
                yield Label("Order number")
                yield Input(
                    type="integer",
                    max_length=MAX_ORDER_DIGITS,
                    placeholder="e.g. 42",
                    id="order-number",
                    compact=True,
                )
            with Horizontal(classes="buttons"):
                yield Button("Open", id="find-open", variant="primary", compact=True)
                yield Button("Back", id="find-back", compact=True)
        yield Footer()

    @on(Input.Submitted, "#order-number")
    @on(Button.Pressed, "#find-open")
    def _open(self) -> None:
        typed = self.query_one("#order-number", Input).value.strip()
        if not typed.isdigit() or int(typed) < 1:
            self.query_one("#find-hint", Label).update("Type the order's number: digits, e.g. 42.")
            return
        self.dismiss(int(typed))

    @on(Button.Pressed, "#find-back")
    def _back(self) -> None:
        self.dismiss(None)
