"""Ship an order: the carrier's tracking reference, kept on the order and shown to its
customer. Left empty, the order ships without one."""

from __future__ import annotations

from typing import Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Input, Label

from client_tui.orderfmt import customer_text, item_count

TRACKING_MAX = 100


class ShipScreen(ModalScreen[str | None]):
    """Dismissed with the tracking reference ("" for none), or None to back out."""

    AUTO_FOCUS = "#tracking"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss(None)", "Back")]

    def __init__(self, order: dict[str, Any]) -> None:
        super().__init__()
        self.order = order

    def compose(self) -> ComposeResult:
        order = self.order
        with Vertical(id="ship-dialog", classes="dialog") as dialog:
            dialog.border_title = f"Ship order #{order['id']}"
            what = f"{item_count(order, refunds=True)} for {customer_text(order)}"
            yield Label(what, id="ship-what")
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
