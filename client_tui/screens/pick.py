"""A name typed at the till that fits several products: pick one (Enter), or back out."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.table import Table
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, Label, OptionList
from textual.widgets.option_list import Option

from client_tui.cut import Folded
from client_tui.shop import Shop
from client_tui.stock import stock_text
from client_tui.widgets.product_table import COMPACT_BELOW


class PickProductScreen(ModalScreen[dict[str, Any] | None]):
    AUTO_FOCUS = "#pick-list"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "back", "Back")]

    def __init__(self, shop: Shop, typed: str, products: list[dict[str, Any]]) -> None:
        super().__init__()
        self.shop = shop
        self.typed = typed
        self.products = products
        self.compact = False  # laid out for a phone: set with the options

    def compose(self) -> ComposeResult:
        with Vertical(id="pick-dialog", classes="dialog") as dialog:
            dialog.border_title = f"{len(self.products)} products match {self.typed!r}"
            yield Label("Choose one with ↑ ↓ and Enter.", id="pick-hint")
            yield OptionList(*self._options(), id="pick-list")
        yield Footer()

    def _options(self) -> list[Option]:
        """A product an option, its cells in columns as wide as their widest; as in the
        product table, a name longer than its room is folded onto more lines (two sizes of
        one product never read alike), and on a phone the SKU goes and price and stock are
        shorter."""
        compact = self.compact = self.app.size.width < COMPACT_BELOW
        rows = [self._cells(product, compact) for product in self.products]
        sku, price, stock = (max((len(row[i]) for row in rows), default=0) for i in (0, 2, 3))
        return [
            Option(
                _line(row, None if compact else sku, price, stock),
                id=str(product["id"]),
                disabled=bool(product.get("archived")),
            )
            for row, product in zip(rows, self.products, strict=True)
        ]

    def _cells(self, product: dict[str, Any], compact: bool) -> tuple[str, str, str, str]:
        """SKU, name, price and stock as the option shows them."""
        stock = self.shop.book.stock(product["id"], product["stock"])
        return (
            product["sku"],
            product["name"],
            self.shop.money.format(product["price"], whole=compact),
            stock_text(stock, compact),
        )

    def on_resize(self) -> None:
        """A phone turned: the options laid out again for the width, the same one highlighted."""
        if (self.app.size.width < COMPACT_BELOW) != self.compact:
            options = self.query_one("#pick-list", OptionList)
            highlighted = options.highlighted
            options.clear_options()
            options.add_options(self._options())
            options.highlighted = highlighted

    @on(OptionList.OptionSelected, "#pick-list")
    def _picked(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(self.products[event.option_index])

    def action_back(self) -> None:
        self.dismiss(None)


def _line(
    cells: tuple[str, str, str, str], sku_width: int | None, price_width: int, stock_width: int
) -> Table:
    """One option: the cells in a grid whose name column takes the width the others leave;
    no SKU column when its width is None (a phone)."""
    sku, name, price, stock = cells
    line = Table.grid(padding=(0, 1), expand=True)
    if sku_width is not None:
        line.add_column(style="dim", no_wrap=True, width=sku_width)
    line.add_column(ratio=1)
    line.add_column(style="bold", justify="right", no_wrap=True, width=price_width)
    line.add_column(style="dim", justify="right", no_wrap=True, width=stock_width)
    line.add_row(*([] if sku_width is None else [sku]), Folded(name), price, stock)
    return line
