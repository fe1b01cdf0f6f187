"""Staff open any order by its number (on the receipt: `Order 42`), to see it, ship it or
refund it: a customer back at the counter with a receipt, an online order asked about. A
number no order has is said in the dialog, which stays open for another."""

from __future__ import annotations

from typing import Any, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Input, Label

from client_tui.errors import CALL_ERRORS, describe, end_if_signed_out
from client_tui.shop import Shop
from protocol.errors import NotFound

MAX_ORDER_ID = 2**53  # PROTOCOL.md: ids go to 2^53
HINT = "Its number, as the receipt or the order list shows it."


class FindOrderScreen(ModalScreen[dict[str, Any] | None]):
    """Dismissed with the order found, or None to back out."""

    AUTO_FOCUS = "#order-number"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss(None)", "Back")]

    def __init__(self, shop: Shop) -> None:
        super().__init__()
        self.shop = shop

    def compose(self) -> ComposeResult:
        with Vertical(id="find-order-dialog", classes="dialog") as dialog:
            dialog.border_title = "Open an order"
            yield Label(HINT, id="find-hint")
            with Horizontal(classes="field-row"):
                yield Label("Order number")
                yield Input(
                    type="integer",
                    max_length=len(str(MAX_ORDER_ID)),
                    placeholder="e.g. 42",
                    id="order-number",
                    compact=True,
                )
            with Horizontal(classes="buttons"):
                yield Button("Open", id="find-open", variant="primary", compact=True)
                yield Button("Back", id="find-back", compact=True)
        yield Footer()

    def say(self, text: str) -> None:
        self.query_one("#find-hint", Label).update(text)

    @on(Input.Submitted, "#order-number")
    @on(Button.Pressed, "#find-open")
    def _open(self) -> None:
        typed = self.query_one("#order-number", Input).value.strip()
        if not typed.isdigit() or not 1 <= int(typed) <= MAX_ORDER_ID:
            self.say("Type the order's number: digits, e.g. 42.")
            return
        self._find(int(typed))

    @work(exclusive=True, group="find-order")
    async def _find(self, number: int) -> None:
        self.say(f"Looking for order {number}…")
        try:
            order = await self.shop.order(number)
        except NotFound:
            self.say(f"No order has the number {number}: check it on the receipt.")
            return
        except CALL_ERRORS as error:
            self.say(describe(error))
            end_if_signed_out(self, error)
            return
        self.dismiss(order)

    @on(Button.Pressed, "#find-back")
    def _back(self) -> None:
        self.dismiss(None)
