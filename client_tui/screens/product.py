"""One product: its description, price, live stock, and an add-to-cart control."""

from __future__ import annotations

from typing import Any, ClassVar

from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Input, Label, Static

from client_tui.actions import add_to_cart
from client_tui.cut import middle_cut
from client_tui.errors import quiet_link
from client_tui.hub import hub_of
from client_tui.shop import Shop
from client_tui.stock import Level, stock_text
from protocol.rules import MAX_QTY

DIALOG_WIDTH = 72  # .dialog in dialogs.tcss


class ProductScreen(ModalScreen[None]):
    AUTO_FOCUS = "#qty, #close"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss", "Close")]

    def __init__(self, shop: Shop, product: dict[str, Any], *, can_buy: bool) -> None:
        super().__init__()
        self.shop = shop
        self.product = product
        self.can_buy = can_buy

    def compose(self) -> ComposeResult:
        product = self.product
        with Vertical(id="product-dialog", classes="dialog") as dialog:
            dialog.border_title = product["name"]
            yield Label(f"SKU {product['sku']}", id="product-sku")
            with Horizontal(id="product-facts"):
                yield Label(self.shop.money.format(product["price"]), id="product-price")
                yield Label("", id="product-stock")
            yield Static(product.get("description") or "", id="product-description")
            with Horizontal(id="product-buy", classes="buttons"):
                if self.can_buy:
                    yield Label("Quantity", id="qty-label")
                    yield Input("1", type="integer", max_length=4, id="qty", compact=True)
                    yield Button("Add to cart", id="add", variant="primary", compact=True)
                yield Button("Close", id="close", compact=True)
        yield Footer()

    def on_resize(self, event: events.Resize) -> None:
        """The name as the dialog's title, cut in the middle on a narrow screen (the
        variant at its end stays)."""
        room = min(DIALOG_WIDTH, event.size.width) - 6  # the corners and the title's spaces
        dialog = self.query_one("#product-dialog")
        dialog.border_title = middle_cut(self.product["name"], room)

    def on_mount(self) -> None:
        hub_of(self).stock_changed.subscribe(self, self._stock_changed)
        self._show_stock(self.shop.book.stock(self.product["id"], self.product["stock"]))
        self._refresh_product()

    @work(exclusive=True)
    async def _refresh_product(self) -> None:
        """The list row may be older than the product: read it again for the dialog."""
        with quiet_link(self.post_message, self.product["name"]):
            self._show_product(await self.shop.product(self.product["id"]))

    def _show_product(self, product: dict[str, Any]) -> None:
        self.product = product
        self.query_one("#product-description", Static).update(product.get("description") or "")
        self.query_one("#product-price", Label).update(self.shop.money.format(product["price"]))
        self._show_stock(self.shop.book.stock(product["id"], product["stock"]))

    def _stock_changed(self, levels: dict[int, Level]) -> None:
        if (level := levels.get(self.product["id"])) is not None:
            self._show_stock(level.stock)

    def _show_stock(self, stock: int) -> None:
        label = self.query_one("#product-stock", Label)
        label.update(stock_text(stock))
        label.set_class(stock <= 0, "sold-out")
        if self.can_buy:
            self.query_one("#add", Button).disabled = stock <= 0

    @on(Button.Pressed, "#close")
    def _close(self) -> None:
        self.dismiss()

    @on(Button.Pressed, "#add")
    @on(Input.Submitted, "#qty")
    def _add_pressed(self) -> None:
        if self.query_one("#add", Button).disabled:
            self.notify(
                f"{self.product['name']} is sold out: it cannot be added to the cart.",
                severity="warning",
            )
            return
        text = self.query_one("#qty", Input).value
        qty = int(text) if text.isdigit() else 0
        if not 1 <= qty <= MAX_QTY:
            self.notify(f"Enter a quantity from 1 to {MAX_QTY}.", severity="warning")
            return
        self._add(qty)

    @work(exclusive=True, group="product-add")
    async def _add(self, qty: int) -> None:
        if await add_to_cart(self.app, self.shop, self.product, qty):
            self.dismiss()
