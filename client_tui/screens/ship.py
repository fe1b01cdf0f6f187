"""Ship an order: the carrier's tracking reference, kept on the order and shown to its
customer. Left empty, the order ships without one."""

from __future__ import annotations

from typing import Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Input, Label, Static

from client_tui.orderfmt import customer_text, item_count

TRACKING_MAX = 100
PACKING_LINES = 8  # the lines shown; more are counted ("and 3 more products")


class ShipScreen(ModalScreen[str | None]):
    """Dismissed with the tracking reference ("" for none), or None to back out."""

    AUTO_FOCUS = "#tracking"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss(None)", "Back")]

    def __init__(self, order: dict[str, Any]) -> None:
        super().__init__()
        self.order = order

    def compose(self) -> ComposeResult:
        order = self.order
        with VerticalScroll(id="ship-dialog", classes="dialog") as dialog:
            dialog.border_title = f"Ship order #{order['id']}"
            what = f"{item_count(order)} for {customer_text(order)}:"  # still bought
            yield Label(what, id="ship-what")
            yield Static(packing_list(order), id="ship-lines")
            with Horizontal(classes="field-row"):
                yield Label("Tracking ref")
                yield Input(
                    placeholder="from the carrier (optional)",
                    max_length=TRACKING_MAX,
                    id="tracking",
                    compact=True,
                )
            with Horizontal(classes="buttons"):
                yield Button("Mark shipped", id="ship", variant="primary", compact=True)
                yield Button("Back", id="ship-back", compact=True)
        yield Footer()

    @on(Input.Submitted, "#tracking")
    @on(Button.Pressed, "#ship")
    def _ship(self) -> None:
        self.dismiss(self.query_one("#tracking", Input).value.strip())

    @on(Button.Pressed, "#ship-back")
    def _back(self) -> None:
        self.dismiss(None)


def packing_list(order: dict[str, Any]) -> str:
    """What goes in the parcel: a line per product of the units still bought, with its SKU
    ("2 x Sinar Pagi Mie Goreng 85 g (MIE-0001)")."""
    lines = [
        f"{line['qty'] - line.get('refunded_qty', 0)} x {line['name']} ({line['sku']})"
        for line in order.get("lines", [])
        if line["qty"] > line.get("refunded_qty", 0)
    ]
    more = len(lines) - PACKING_LINES
    if more > 0:
        lines = [*lines[: PACKING_LINES - 1], f"and {more + 1} more products"]
    return "\n".join(lines)
