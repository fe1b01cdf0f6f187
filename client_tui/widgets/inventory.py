"""Inventory, for staff: the catalog with live stock, a low-stock filter, restock and
adjust dialogs, and the open shortfalls of offline sales (`s`) to resolve.

The filter runs on the client (the server lists by name): with it on, pages load until
the view is full or the catalog ends, keeping the products at or below `LOW_STOCK`. A row
stays once shown, so a product just restocked does not vanish under the cursor; `l` twice
(or a new search) applies the filter again.
"""

from __future__ import annotations

from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Label

from client_tui.screens.shortfalls import ShortfallsScreen
from client_tui.screens.stock import StockScreen
from client_tui.shop import Shop
from client_tui.stock import LOW_STOCK
from client_tui.widgets.catalog import CatalogView


class InventoryView(CatalogView):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "stock(False)", "Restock"),
        Binding("a", "stock(True)", "Adjust"),
        Binding("l", "low_stock", "Low stock"),
        Binding("s", "shortfalls", "Shortfalls"),
    ]

    def __init__(self, shop: Shop, *, id: str | None = None) -> None:
        super().__init__(shop, can_buy=False, id=id)
        self.low_only = False

    def compose(self) -> ComposeResult:
        yield from super().compose()
        yield Label(f"Low stock only ({LOW_STOCK} or fewer) · l shows every product", id="low-only")

    def counted(self, total: int | None) -> int | None:
        return None if self.low_only else total

    def shown(self, items: list[dict[str, Any]], stock: dict[int, int]) -> list[dict[str, Any]]:
        if not self.low_only:
            return items
        return [item for item in items if stock[item["id"]] <= LOW_STOCK]

    def action_low_stock(self) -> None:
        self.low_only = not self.low_only
        self.set_class(self.low_only, "-low-only")
        self.reload()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "stock":
            return self.table.highlighted is not None or None
        return super().check_action(action, parameters)

    def action_stock(self, adjust: bool) -> None:
        if (product := self.table.highlighted) is not None:
            self.app.push_screen(StockScreen(self.shop, product, adjust=adjust))

    def action_shortfalls(self) -> None:
        self.app.push_screen(ShortfallsScreen(self.shop))
