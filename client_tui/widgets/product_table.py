"""The product list: SKU, name, price and live stock, one row per product.

A stock change rewrites only that product's stock cell and marks it for a moment; the rows
stay where they are, with the cursor, the scroll position and every other cell untouched.

Names longer than their column wrap onto more lines (the row grows), so two variants
("370 g", "40 g") never look the same. Below `COMPACT_BELOW` columns (a phone) the table
drops the SKU and the cell padding and writes prices without the zero cents and stock as
a number, so name, price and stock all fit in 40 columns. Every state reads without
colour: a mark and words for sold out and low stock; under NO_COLOR the cells carry no
colour at all.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from typing import Any

from rich.text import Text
from textual.timer import Timer
from textual.widgets.data_table import CellDoesNotExist

from client_tui.cut import fold
from client_tui.money import Money
from client_tui.stock import LOW_STOCK, Level, stock_text
from client_tui.widgets.paged_table import PagedTable

FLASH_S = 1.5
MIN_NAME = 8
COMPACT_BELOW = 60  # table width under which the compact columns are used


def stock_cell(
    stock: int, flash: bool = False, *, compact: bool = False, colour: bool = True
) -> Text:
    """The stock cell: colour as a second hint only, and reverse video while it has just
    changed (visible under NO_COLOR too)."""
    style = "bold" if stock <= 0 else ""
    if colour:
        style = "bold red" if stock <= 0 else ("dark_orange" if stock <= LOW_STOCK else "")
    if flash:
        style += " reverse"
    return Text(stock_text(stock, compact), style=style.strip(), justify="right")


class ProductTable(PagedTable):
    def __init__(self, money: Money, *, id: str | None = None) -> None:
        super().__init__(fill="name", minimum=MIN_NAME, id=id)
        self.money = money
        self.products: dict[int, dict[str, Any]] = {}
        self._flashing: dict[int, Timer] = {}
        self.compact = False
        self._name_width = 0  # the width the names were folded for

    def on_mount(self) -> None:
        self.add_product_columns()

    def add_product_columns(self) -> None:
        """The columns for the width; a subclass adds its own after these."""
        if not self.compact:
            self.add_column("SKU", key="sku", width=8)
        self.add_column("Name", key="name", width=MIN_NAME)
        for key, title in (("price", "Price"), ("stock", "Stock")):
            self.add_column(Text(title, justify="right"), key=key, width=self._width(key))

    def _width(self, column: str) -> int:
        if column == "price":
            return 10 if self.compact else 14
        return 11 if self.compact else 13

    def add_products(self, products: Iterable[dict[str, Any]], stock: dict[int, int]) -> None:
        """Append rows; `stock` holds the freshest level known per product."""
        for product in products:
            if product["id"] in self.products:
                continue  # a product that moved between pages: keep the row it has
            product = {**product, "stock": stock.get(product["id"], product["stock"])}
            self.products[product["id"]] = product
            self._add_row(product)

    def _add_row(self, product: dict[str, Any]) -> None:
        lines = fold(product["name"], self._name_column_width())
        self.add_row(*self.cells(product, lines), key=str(product["id"]), height=len(lines))

    def cells(self, product: dict[str, Any], name: list[str]) -> list[Text]:
        """A row's cells in the order of the columns, its name folded into `name`."""
        price = self.money.format(product["price"], whole=self.compact)
        cells = [
            Text("\n".join(name), no_wrap=True, overflow="ellipsis"),
            Text(price, justify="right"),
            self._stock_cell(product["stock"]),
        ]
        if not self.compact:
            cells.insert(0, Text(product["sku"], no_wrap=True, overflow="ellipsis"))
        return cells

    def _name_column_width(self) -> int:
        column = self.columns.get("name")  # type: ignore[call-overload]
        return int(column.width) if column is not None else MIN_NAME

    def _stock_cell(self, stock: int, flash: bool = False) -> Text:
        return stock_cell(stock, flash, compact=self.compact, colour=not self.app.no_color)

    def fit(self) -> None:
        """Columns for the width (compact on a phone), names folded again for their room:
        the rows' heights change, so they are added again (DataTable keeps a row's height)."""
        keep = self.cursor_key()
        compact = 0 < self.size.width < COMPACT_BELOW
        if compact != self.compact:
            self.compact = compact
            self.cell_padding = 0 if compact else 1
            self.clear(columns=True)
            self.add_product_columns()
            self._name_width = 0  # the rows went with the columns
        super().fit()
        width = self._name_column_width()
        if width != self._name_width:
            self._name_width = width
            self.add_rows_again(keep)

    def remove_product(self, product_id: int) -> None:
        """The product's row goes, and the listing counts one product fewer."""
        if self.products.pop(product_id, None) is None:
            return
        if self.total is not None:
            self.total -= 1
        if (timer := self._flashing.pop(product_id, None)) is not None:
            timer.stop()
        self.remove_row(str(product_id))

    def add_rows_again(self, keep: str | None) -> None:
        """Every row rebuilt from `products`, the cursor on the product `keep`."""
        self.clear()
        for product in self.products.values():
            self._add_row(product)
        if keep is not None and keep in self.rows:
            self.move_cursor(row=self.get_row_index(keep))

    def clear_products(self) -> None:
        for timer in self._flashing.values():
            timer.stop()
        self._flashing.clear()
        self.products.clear()
        self.to_end = False
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
            self.update_cell(str(product_id), "stock", self._stock_cell(stock, flash))

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
