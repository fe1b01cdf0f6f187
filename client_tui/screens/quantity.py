"""Type a cart's or a ticket's line quantity instead of pressing `+`/`-` many times."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Input, Label

from protocol.rules import MAX_QTY


class QuantityScreen(ModalScreen[int | None]):
    """Dismissed with the quantity typed (0 removes the line), or None to back out."""

    AUTO_FOCUS = "#line-qty"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss(None)", "Back")]

    def __init__(self, name: str, qty: int) -> None:
        super().__init__()
        self.product_name = name
        self.qty = qty

    def compose(self) -> ComposeResult:
        with Vertical(id="quantity-dialog", classes="dialog") as dialog:
            dialog.border_title = self.product_name
            yield Label(f"Quantity from 0 (removes the line) to {MAX_QTY}", id="quantity-hint")
            with Horizontal(classes="buttons"):
                yield Input(
                    str(self.qty), type="integer", max_length=4, id="line-qty", compact=True
                )
                yield Button("Set", id="set-qty", variant="primary", compact=True)
                yield Button("Back", id="qty-back", compact=True)
        yield Footer()

    @on(Input.Submitted, "#line-qty")
    @on(Button.Pressed, "#set-qty")
    def _set(self) -> None:
        text = self.query_one("#line-qty", Input).value.strip()
        if not text.isdigit() or int(text) > MAX_QTY:
            self.query_one("#quantity-hint", Label).update(
                f"Type a whole number from 0 to {MAX_QTY}."
            )
            return
        self.dismiss(int(text))

    @on(Button.Pressed, "#qty-back")
    def _back(self) -> None:
        self.dismiss(None)
