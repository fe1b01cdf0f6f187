"""The product list: SKU, name, price and live stock, one row per product.

A stock change rewrites only that product's stock cell and marks it for a moment; the rows
stay where they are, with the cursor, the scroll position and every other cell untouched.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from typing import Any

from rich.text import Text
from textual.timer import Timer
from textual.widgets.data_table import CellDoesNotExist

from client_tui.money import Money
from client_tui.stock import LOW_STOCK, Level, availability
from client_tui.widgets.paged_table import PagedTable

FLASH_S = 1.5
MIN_NAME = 16


def stock_cell(stock: int, flash: bool = False) -> Text:
    """The stock cell: words that read without colour, colour as a second hint, and
    reverse video while it has just changed (visible under NO_COLOR too)."""
    style = "bold red" if stock <= 0 else ("dark_orange" if stock <= LOW_STOCK else "")
    if flash:
        style += " reverse"
    return Text(availability(stock), style=style.strip(), justify="right")


class ProductTable(PagedTable):
    def __init__(self, money: Money, *, id: str | None = None) -> None:
        super().__init__(fill="name", minimum=MIN_NAME, id=id)
        self.money = money
        self.products: dict[int, dict[str, Any]] = {}
        self._flashing: dict[int, Timer] = {}

    def on_mount(self) -> None:
        for label, key, width in self.column_specs():
            self.add_column(label, key=key, width=width)

    def column_specs(self) -> list[tuple[str | Text, str, int]]:
        """(label, key, width) of each column; `cells` gives a row's cells in this order."""
        return [
            ("SKU", "sku", 8),
            ("Name", "name", MIN_NAME),
            (Text("Price", justify="right"), "price", 14),
            (Text("Stock", justify="right"), "stock", 12),
        ]

    def add_products(self, products: Iterable[dict[str, Any]], stock: dict[int, int]) -> None:
        """Append rows; `stock` holds the freshest level known per product."""
        for product in products:
            if product["id"] in self.products:
                continue  # a product that moved between pages: keep the row it has
            self.products[product["id"]] = product
            level = stock.get(product["id"], product["stock"])
            self.add_row(*self.cells(product, level), key=str(product["id"]))

    def cells(self, product: dict[str, Any], stock: int) -> list[Text]:
        """A row's cells, in the order of the columns."""
        return [
            Text(product["sku"], no_wrap=True, overflow="ellipsis"),
            Text(product["name"], no_wrap=True, overflow="ellipsis"),
            Text(self.money.format(product["price"]), justify="right"),
            stock_cell(stock),
        ]

    def remove_product(self, product_id: int) -> None:
        if self.products.pop(product_id, None) is None:
            return
        if (timer := self._flashing.pop(product_id, None)) is not None:
            timer.stop()
        self.remove_row(str(product_id))

    def clear_products(self) -> None:
        for timer in self._flashing.values():
            timer.stop()
        self._flashing.clear()
        self.products.clear()
        self.clear()

    def apply_levels(self, levels: dict[int, Level]) -> None:
        """Redraw the stock cells of the products shown, each marked for FLASH_S."""
        for product_id, level in levels.items():
            if product_id not in self.products:
                continue
            self._set_stock(product_id, level.stock, flash=True)
            if (timer := self._flashing.pop(product_id, None)) is not None:
                timer.stop()
            self._flashing[product_id] = self.set_timer(
                FLASH_S, lambda pid=product_id, s=level.stock: self._unflash(pid, s)
            )

    def _unflash(self, product_id: int, stock: int) -> None:
        self._flashing.pop(product_id, None)
        if product_id in self.products:
            self._set_stock(product_id, stock, flash=False)

    def _set_stock(self, product_id: int, stock: int, flash: bool) -> None:
        self.products[product_id] = {**self.products[product_id], "stock": stock}
        with contextlib.suppress(CellDoesNotExist):
            self.update_cell(str(product_id), "stock", stock_cell(stock, flash))

    @property
    def product_ids(self) -> list[int]:
        return list(self.products)

    @property
    def highlighted(self) -> dict[str, Any] | None:
        """The product under the cursor, with its latest stock."""
        if not self.row_count:
            return None
        try:
            row_key, _ = self.coordinate_to_cell_key(self.cursor_coordinate)
        except CellDoesNotExist:
            return None
        return self.products.get(int(row_key.value or 0))
