"""After a sale: the change to give (large), the receipt, and where it was saved (if it was).
Enter or Escape goes back to the till for the next sale."""

from __future__ import annotations

from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Digits, Footer, Label, Static

from client_tui.money import Money
from client_tui.receipt import METHODS, receipt_number


class ReceiptScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter,escape", "dismiss", "Next sale", key_display="Enter"),
    ]

    def __init__(self, money: Money, order: dict[str, Any], receipt: str, saved: str) -> None:
        super().__init__()
        self.money = money
        self.order = order
        self.receipt = receipt
        self.saved = saved

    def compose(self) -> ComposeResult:
        payment = self.order.get("payment") or {}
        method = payment.get("method", "")
        with Vertical(id="receipt-dialog", classes="dialog") as dialog:
            if self.order.get("id") is None:
                dialog.border_title = f"Sold offline · receipt {receipt_number(self.order)}"
            else:
                dialog.border_title = f"Sold · order #{self.order['id']}"
            with Horizontal(id="receipt-body"):
                with VerticalScroll(id="receipt-paper"):
                    yield Static(self.receipt, id="receipt-text")
                with Vertical(id="receipt-side"):
                    if method == "cash":
                        yield Label(f"Change to give ({self.money.symbol})", id="change-label")
                        change = self.money.format(self.order.get("change_due", 0), symbol=False)
                        yield Digits(change, id="change-due")
                    else:
                        name = METHODS.get(method, method)
                        yield Label(f"Paid by {name}", id="change-label")
                    if self.saved:
                        yield Static(self.saved, id="receipt-saved")
                    yield Label("Enter: next sale", id="receipt-next")
        yield Footer()
