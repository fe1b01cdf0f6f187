"""The cart: lines with quantities and live stock, the total, and the way to checkout.

Quantities change on screen at each key; the cart sends a line's newest quantity once the
keys pause (`QUIET_S`), or when the line's previous call answers, never two at once
(`cartedit.PendingQuantities`).
"""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.timer import Timer
from textual.widgets import DataTable, Label
from textual.widgets.data_table import CellDoesNotExist

from client_tui.cartedit import PendingQuantities
from client_tui.errors import CALL_ERRORS, describe, report, too_many
from client_tui.hub import hub_of
from client_tui.orderfmt import counted
from client_tui.screens.checkout import CheckoutScreen
from client_tui.screens.order import OrderScreen
from client_tui.screens.quantity import QuantityScreen
from client_tui.shop import Shop
from client_tui.stock import NO_LONGER_SOLD, Level, shortfall
from client_tui.widgets.cart_table import CartTable
from protocol.errors import OutOfStock

QUIET_S = 0.3  # a line's quantity is sent once its keys pause this long
QUANTITY = Binding.Group("Qty")  # one footer entry, "⏎ + - Qty" as the column: fits 40 columns


class CartView(Vertical):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("plus,equals_sign", "change(1)", "More", key_display="+", group=QUANTITY),
        Binding("minus", "change(-1)", "Less", key_display="-", group=QUANTITY),
        Binding("enter", "quantity", "Type quantity", priority=True, group=QUANTITY),
        Binding("x,delete", "remove", "Remove"),
        Binding("c", "checkout", "Check out"),
    ]

    def __init__(self, shop: Shop, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.shop = shop
        # Held, not queried: the footer's labels may mount after this view does.
        self.empty = Label(
            "Your cart is empty. Add products from the catalog (F2).", id="cart-empty"
        )
        self.total = Label("", id="cart-total")
        self.problem = Label("", id="cart-problem")
        self.pending = PendingQuantities()
        self._quiet: dict[int, Timer] = {}
        self._settled = asyncio.Event()
        self._settled.set()

    def compose(self) -> ComposeResult:
        yield CartTable(self.shop.money, id="cart-lines")
        yield self.empty
        with Horizontal(id="cart-footer"):
            yield self.total
            yield self.problem

    def on_mount(self) -> None:
        hub_of(self).cart_changed.subscribe(self, self.show)
        hub_of(self).stock_changed.subscribe(self, self._stock_changed)
        self.show(self.shop.cart)

    @property
    def table(self) -> CartTable:
        return self.query_one("#cart-lines", CartTable)

    @property
    def lines(self) -> list[dict[str, Any]]:
        return list(self.shop.cart.get("items", []))

    def show(self, cart: dict[str, Any]) -> None:
        """Draw the cart, keeping the cursor on the line it was on."""
        table = self.table
        keep = self._current_line()
        table.clear()
        money = self.shop.money
        count, total = cart.get("count", 0), cart.get("total", 0)
        for line in cart.get("items", []):
            qty = self.pending.shown(line["product_id"], line["qty"])
            line_total = line["line_total"] + (qty - line["qty"]) * line["unit_price"]
            count, total = count + qty - line["qty"], total + line_total - line["line_total"]
            table.add_line(line, qty, line_total, self._shortfall(line))
        if keep is not None and str(keep["product_id"]) in table.rows:
            table.move_cursor(row=table.get_row_index(str(keep["product_id"])))
        amount = money.format(total, whole=table.compact)
        self.total.update(f"{counted(count, 'item')} · Total {amount}")
        self.empty.display = not cart.get("items")
        self._show_problems()
        self.screen.refresh_bindings()

    def _shortfall(self, line: dict[str, Any]) -> str:
        """What stock lacks for the quantity shown (the one typed, if not yet sent)."""
        stock = self.shop.book.stock(line["product_id"], line["stock"])
        qty = self.pending.shown(line["product_id"], line["qty"])
        return shortfall(qty, stock, line.get("archived", False))

    def _stock_changed(self, levels: dict[int, Level]) -> None:
        for line in self.lines:
            if line["product_id"] in levels:
                try:
                    note = self.table.note(self._shortfall(line))
                    self.table.update_cell(str(line["product_id"]), "note", note)
                except CellDoesNotExist:
                    continue
        self._show_problems()

    def _show_problems(self) -> None:
        shortfalls = [(line, self._shortfall(line)) for line in self.lines]
        gone = [line for line, short in shortfalls if short == NO_LONGER_SOLD]
        short = [line for line, short in shortfalls if short and short != NO_LONGER_SOLD]
        text = ""
        if gone:
            text = f"No longer sold: {_names(gone)}. Remove it (x) to check out."
        elif short:
            left = [
                (ln["name"], self.shop.book.stock(ln["product_id"], ln["stock"])) for ln in short
            ]
            text = f"Not enough stock: {_names_left(left)}. Lower the quantity or remove it."
        problem = self.problem
        problem.update(text)
        problem.display = bool(text)

    def _current_line(self) -> dict[str, Any] | None:
        key = self.table.cursor_key()
        return next((ln for ln in self.lines if str(ln["product_id"]) == key), None)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "checkout":
            return True if self.lines else None
        if action in ("change", "remove", "quantity"):
            return True if self._current_line() is not None else None
        return True

    def action_change(self, delta: int) -> None:
        if (line := self._current_line()) is not None:
            self.pending.change(line["product_id"], line["qty"], delta)
            self._changed(line["product_id"], QUIET_S)

    def action_remove(self) -> None:
        if (line := self._current_line()) is not None:
            self.pending.want(line["product_id"], 0)
            self._changed(line["product_id"], 0)

    def action_quantity(self) -> None:
        if (line := self._current_line()) is not None:
            qty = self.pending.shown(line["product_id"], line["qty"])
            self.app.push_screen(
                QuantityScreen(line["name"], qty), lambda typed: self._typed(line, typed)
            )

    def _typed(self, line: dict[str, Any], qty: int | None) -> None:
        if qty is not None:
            self.pending.want(line["product_id"], qty)
            self._changed(line["product_id"], 0)

    @property
    def typing(self) -> bool:
        """Some line's keys were pressed within the quiet time: its quantity waits."""
        return bool(self._quiet)

    def _changed(self, product_id: int, quiet_s: float) -> None:
        """Show the wanted quantity now; send it once the keys pause for `quiet_s`."""
        self._settled.clear()
        self.show(self.shop.cart)
        if (timer := self._quiet.pop(product_id, None)) is not None:
            timer.stop()
        if quiet_s:
            self._quiet[product_id] = self.set_timer(quiet_s, lambda: self._send(product_id))
        else:
            self._send(product_id)

    def _send(self, product_id: int) -> None:
        self._quiet.pop(product_id, None)
        if (qty := self.pending.next_to_send(product_id)) is not None:
            self._set(product_id, qty)

    @work(group="cart-change")
    async def _set(self, product_id: int, qty: int) -> None:
        """One line's call; when it answers, the line's newer quantity (if any) follows
        unless its keys are still being pressed."""
        ok = False
        try:
            if qty == 0:
                await self.shop.remove(product_id)
            else:
                await self.shop.set_qty(product_id, qty)
            ok = True
        except OutOfStock as error:  # the server's cart is as it was
            line = next((ln for ln in self.lines if ln["product_id"] == product_id), {})
            held = line.get("qty", 0)
            # a line already at what is left can take no more; else a quantity is set here,
            # and `describe` says to what
            full = held >= error.details.get("available", 0)
            said = too_many(error, held) if full else describe(error)
            self.app.notify(said, title=line.get("name", "Cart"), severity="error")
        except CALL_ERRORS as error:
            report(self, error, "Cart")
        self.pending.answered(product_id, ok)
        self.show(self.shop.cart)
        if product_id not in self._quiet:
            self._send(product_id)
        if not self.pending.products():
            self._settled.set()

    def action_checkout(self) -> None:
        if self.lines:
            self._checkout()

    @work(exclusive=True, group="cart-checkout")
    async def _checkout(self) -> None:
        """Check out the cart as shown: quantities still being sent are sent first."""
        for product_id in self.pending.products():
            if (timer := self._quiet.pop(product_id, None)) is not None:
                timer.stop()
            self._send(product_id)
        await self._settled.wait()
        if self.lines:
            self.app.push_screen(CheckoutScreen(self.shop), self._checked_out)

    def _checked_out(self, order: dict[str, Any] | None) -> None:
        if order is not None:
            self.app.push_screen(OrderScreen(self.shop, order, thanks=True))

    @on(CartTable.Refit)
    def _refit(self) -> None:
        self.show(self.shop.cart)

    @on(DataTable.RowSelected, "#cart-lines")
    def _row_selected(self) -> None:
        """A click on the highlighted line (Enter is the binding's)."""
        self.action_quantity()

    @on(DataTable.RowHighlighted, "#cart-lines")
    def _row_highlighted(self) -> None:
        self.screen.refresh_bindings()


def _names(lines: list[dict[str, Any]]) -> str:
    """The first two lines' names, and how many more."""
    return _first_two([line["name"] for line in lines])


def _names_left(left: list[tuple[str, int]]) -> str:
    """The first two (name, stock) with what is left of each, and how many more."""
    return _first_two(
        [f"{name} ({stock} left)" if stock > 0 else f"{name} (sold out)" for name, stock in left]
    )


def _first_two(names: list[str]) -> str:
    return ", ".join(names[:2]) + (f" and {len(names) - 2} more" if len(names) > 2 else "")
