"""The orders list: newest first, loaded page by page, statuses kept live.

Customers see their own orders, and `order` pushes move their statuses as they happen.
Staff work from `FulfilmentView`, which builds on this list. Below `COMPACT_BELOW` columns
(a phone) the list keeps the order, its status and its total (without the zero cents);
Enter shows the rest.
"""

from __future__ import annotations

import contextlib
from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Label
from textual.widgets.data_table import CellDoesNotExist

from client_tui import timefmt
from client_tui.errors import CALL_ERRORS, report
from client_tui.hub import hub_of
from client_tui.orderfmt import (
    customer_text,
    item_count,
    short_status,
    some_refunded,
    unrefunded_total,
)
from client_tui.screens.order import OrderScreen, allowed, apply
from client_tui.shop import Shop
from client_tui.widgets.cart_table import CartTable
from client_tui.widgets.paged_table import PagedTable
from client_tui.widgets.paged_view import Fetched, PagedView
from client_tui.widgets.product_table import COMPACT_BELOW

FLASH_S = 1.5
COMPACT_TOTAL = CartTable.COMPACT_WIDTHS[2]  # as the cart's compact total: Rp 9.999.999


class OrdersView(PagedView):
    TITLE = "Orders"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("x", "act('cancel_order')", "Cancel"),
        Binding("s", "act('ship')", "Ship"),
        Binding("d", "act('deliver')", "Deliver"),
        Binding("f", "act('refund')", "Refund"),
        Binding("r", "reload", "Refresh"),
    ]

    def __init__(self, shop: Shop, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.shop = shop
        self.orders: dict[int, dict[str, Any]] = {}
        self.compact = False

    def compose(self) -> ComposeResult:
        yield PagedTable(fill="status", minimum=12, id="orders-table")
        yield Label("No orders yet.", id="orders-empty")
        yield Label("", id="orders-position")

    def on_mount(self) -> None:
        self._add_columns()
        hub_of(self).order_changed.subscribe(self, self._order_changed)
        hub_of(self).resynced.subscribe(self, lambda _: self.action_reload())
        self.action_reload()

    def _add_columns(self) -> None:
        table = self.table
        table.add_column("Order", key="id", width=7)
        if not self.compact:
            table.add_column("Placed", key="when", width=12)
            if self.shop.is_staff:
                table.add_column("Customer", key="customer", width=12)
        table.add_column("Status", key="status", width=12)
        if not self.compact:
            table.add_column(Text("Items", justify="right"), key="items", width=8)
        total = Text("Total", justify="right")
        table.add_column(total, key="total", width=COMPACT_TOTAL if self.compact else 15)

    def on_resize(self) -> None:
        """The columns for the width: fewer on a phone."""
        compact = 0 < self.size.width < COMPACT_BELOW
        if compact != self.compact:
            keep = self.current
            self.compact = compact
            self.table.clear(columns=True)
            self._add_columns()
            self.table.fit()
            self._draw(keep)

    async def fetch(self, cursor: str | None) -> Fetched:
        return await self.shop.orders(cursor)

    def take_page(self, items: list[dict[str, Any]], first: bool) -> None:
        if first:
            self.orders.clear()
        self.orders.update((order["id"], order) for order in items)
        self._draw()

    def sort_key(self, order: dict[str, Any]) -> int:
        """Rows in this order: newest first."""
        return -int(order["id"])

    @on(PagedTable.Viewed, "#orders-table")
    def _show_position(self) -> None:
        """ "21-37 of 40+ orders": order.list gives no total, so "+" while pages are left."""
        where = self.table.position()
        label = self.query_one("#orders-position", Label)
        label.update(f"{where} order{'' if where == '1' else 's'}" if where else "")

    def _draw(self, keep: dict[str, Any] | None = None) -> None:
        """Rows by `sort_key`, keeping the cursor on its order (or on `keep`'s)."""
        table = self.table
        keep = keep or self.current
        table.clear()
        for order in sorted(self.orders.values(), key=self.sort_key):
            table.add_row(*self._cells(order), key=str(order["id"]))
        if keep is not None and str(keep["id"]) in table.rows:
            table.move_cursor(row=table.get_row_index(str(keep["id"])))
        self.query_one("#orders-empty", Label).display = not self.orders
        self.screen.refresh_bindings()
        self._show_position()

    def _total(self, order: dict[str, Any]) -> Text:
        """What the order's units still bought cost, as the items cell counts them: after a
        refund, less what was refunded."""
        paid = unrefunded_total(order) if some_refunded(order) else order["total"]
        return Text(self.shop.money.format(paid, whole=self.compact), justify="right")

    def _cells(self, order: dict[str, Any], flash: bool = False) -> list[Any]:
        total = self._total(order)
        if self.compact:
            return [f"#{order['id']}", self.status_cell(order, flash), total]
        cells: list[Any] = [f"#{order['id']}", timefmt.when(order.get("created_at"))]
        if self.shop.is_staff:
            cells.append(Text(customer_text(order), no_wrap=True, overflow="ellipsis"))
        return [
            *cells,
            self.status_cell(order, flash),
            Text(item_count(order), justify="right"),
            total,
        ]

    def _order_changed(self, order: dict[str, Any]) -> None:
        if order["id"] not in self.orders:
            # a customer's list is newest first: a cursor on the newest goes to the new one
            at_top = self.shop.is_customer and self.table.cursor_row <= 0
            self.orders[order["id"]] = order
            self._draw()
            if at_top:
                self.table.move_cursor(row=0)
            return
        self.orders[order["id"]] = order
        self._set_status(order, flash=True)
        with contextlib.suppress(CellDoesNotExist):  # a refund changes what is still bought
            self.table.update_cell(str(order["id"]), "total", self._total(order))
            if not self.compact:
                items = Text(item_count(order), justify="right")
                self.table.update_cell(str(order["id"]), "items", items)
        self.set_timer(FLASH_S, lambda: self._unflash(order["id"]))
        self.screen.refresh_bindings()

    def _unflash(self, order_id: int) -> None:
        if (order := self.orders.get(order_id)) is not None:
            self._set_status(order, flash=False)

    def status_cell(self, order: dict[str, Any], flash: bool) -> Text:
        return Text(short_status(order), style="reverse" if flash else "")

    def _set_status(self, order: dict[str, Any], flash: bool) -> None:
        with contextlib.suppress(CellDoesNotExist):
            self.table.update_cell(str(order["id"]), "status", self.status_cell(order, flash))

    @property
    def current(self) -> dict[str, Any] | None:
        key = self.table.cursor_key()
        return self.orders.get(int(key)) if key else None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "act":
            name = str(parameters[0])
            if name in ("ship", "deliver", "refund") and not self.shop.is_staff:
                return False
            return True if allowed(self.shop, name, self.current) else None
        return True

    def action_open(self) -> None:
        if (order := self.current) is not None:
            self.app.push_screen(OrderScreen(self.shop, order))

    @on(DataTable.RowSelected, "#orders-table")
    def _row_selected(self) -> None:
        self.action_open()

    @on(DataTable.RowHighlighted, "#orders-table")
    def _row_highlighted(self) -> None:
        self.screen.refresh_bindings()

    def action_act(self, action: str) -> None:
        if (order := self.current) is not None and allowed(self.shop, action, order):
            self._act(action, order)

    @work(group="order-action")
    async def _act(self, action: str, order: dict[str, Any]) -> None:
        try:
            changed = await apply(self.app, self.shop, action, order)
        except CALL_ERRORS as error:
            report(self, error, f"Order #{order['id']}")
            return
        if changed is not None:
            self._order_changed(changed)
