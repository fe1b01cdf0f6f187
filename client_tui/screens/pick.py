"""A name typed at the till that fits several products: pick one (Enter), or back out."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, Label, OptionList
from textual.widgets.option_list import Option

from client_tui.shop import Shop
from client_tui.stock import availability

NAME_WIDTH = 28  # what the dialog leaves for the name beside SKU, price and stock


class PickProductScreen(ModalScreen[dict[str, Any] | None]):
    AUTO_FOCUS = "#pick-list"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "back", "Back")]

    def __init__(self, shop: Shop, typed: str, products: list[dict[str, Any]]) -> None:
        super().__init__()
        self.shop = shop
        self.typed = typed
        self.products = products

    def compose(self) -> ComposeResult:
        with Vertical(id="pick-dialog", classes="dialog") as dialog:
            dialog.border_title = f"{len(self.products)} products match {self.typed!r}"
            yield Label("Choose one with ↑ ↓ and Enter.", id="pick-hint")
            yield OptionList(*map(self._option, self.products), id="pick-list")
        yield Footer()

    def _option(self, product: dict[str, Any]) -> Option:
        """One row: SKU, name (cut to fit), price, stock."""
        stock = self.shop.book.stock(product["id"], product["stock"])
        name = product["name"]
        if len(name) > NAME_WIDTH:
            name = name[: NAME_WIDTH - 1] + "…"
        line = Text.assemble(
            (f"{product['sku']:<9}", "dim"),
            f"{name:<{NAME_WIDTH}}",
            (f"{self.shop.money.format(product['price']):>14}", "bold"),
            (f"{availability(stock):>13}", "dim"),
        )
        return Option(line, id=str(product["id"]), disabled=bool(product.get("archived")))

    @on(OptionList.OptionSelected, "#pick-list")
    def _picked(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(self.products[event.option_index])

    def action_back(self) -> None:
        self.dismiss(None)
