"""The point of sale, a clerk's first tab: an entry line, the running ticket, the total.

The entry line takes a SKU typed or scanned (a barcode scanner types the SKU, then Enter),
`3*SKU` for three, or a product name, completed as it is typed (→ takes the completion);
a name that fits several products opens a list to pick from. F5, F6 and F7 pay by cash,
card or e-wallet; F8 opens or closes the till, which selling needs. On a phone the ticket
is compact (no SKU, whole amounts) and a row of buttons, tall enough for a finger, pays
and opens the till.

When the server is away the till goes on selling for cash: products are found among those
last seen at this till (price and stock as last known), each sale is queued on the station's
disk (`offline_queue`) with its receipt number before its receipt shows, and a banner counts
the sales waiting, which it sends as soon as the server answers (`offline_banner`).
"""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, DataTable, Digits, Input, Label
from textual.widgets.data_table import CellDoesNotExist

from client_tui.errors import (
    CALL_ERRORS,
    LINK_ERRORS,
    describe,
    end_if_signed_out,
    quiet_link,
)
from client_tui.hub import hub_of
from client_tui.orderfmt import counted
from client_tui.receipt import receipt_number, receipt_text, save_receipt
from client_tui.screens.pay import PayScreen
from client_tui.screens.pick import PickProductScreen
from client_tui.screens.quantity import QuantityScreen
from client_tui.screens.receipt import ReceiptScreen
from client_tui.screens.refused import RefusedSalesScreen
from client_tui.screens.till import TillCloseScreen, TillOpenScreen
from client_tui.shop import Shop
from client_tui.stock import Level, shortfall
from client_tui.ticket import Entry, Ticket, TicketError, parse_entry
from client_tui.till import HELP as TILL_HELP
from client_tui.till import TillStatus, offline_refusal
from client_tui.widgets.cart_table import CartTable
from client_tui.widgets.offline_banner import OfflineBanner
from client_tui.widgets.product_finder import ProductFinder
from client_tui.widgets.product_suggester import ProductSuggester
from client_tui.widgets.ticket_table import TicketTable
from protocol.rules import MAX_QTY

# the phone's buttons: (id, label, the action they run)
PHONE_BUTTONS = (
    ("pos-cash", "Cash", "pay('cash')"),
    ("pos-card", "Card", "pay('card')"),
    ("pos-ewallet", "E-wallet", "pay('ewallet')"),
    ("pos-till", "Till", "till"),
)


class PosView(Vertical):
    HELP = TILL_HELP
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f5", "pay('cash')", "Cash"),
        Binding("f6", "pay('card')", "Card"),
        Binding("f7", "pay('ewallet')", "E-wallet"),
        Binding("f8", "till", "Till"),
        Binding("f9", "refused", "Refused offline sales", show=False),
        # Ctrl+F too: some terminals take F10 for their menu
        Binding("f10,ctrl+f", "screen.open_order", "Order", key_display="f10"),
        Binding("plus,equals_sign", "change(1)", "More", key_display="+"),
        Binding("minus", "change(-1)", "Less", key_display="-"),
        Binding("x,delete", "remove", "Remove"),
        Binding("escape", "entry", "Entry line", show=False),
    ]

    def __init__(self, shop: Shop, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.shop = shop
        self.ticket = Ticket()
        self._lookups = asyncio.Lock()  # entries go on the ticket in the order typed
        self.finder = ProductFinder(shop, self.say, self._pick)
        self._busy = False  # a dialog of the till or of paying is up (or on its way)

    def compose(self) -> ComposeResult:
        yield OfflineBanner(self.shop, self.say, id="offline-banner")
        yield Label("", id="till-line")
        yield Input(
            placeholder="SKU, 3*SKU or a name (→ completes)",
            suggester=ProductSuggester(self.shop),
            id="entry",
            classes="tab-start",
            compact=True,
        )
        yield TicketTable(self.shop.money, id="ticket")
        with Horizontal(id="pos-footer"):
            with Vertical(id="pos-words"):
                yield Label("", id="pos-message")
                yield Label("", id="pos-count")
            yield Digits("", id="pos-total")
        with Horizontal(id="pos-buttons"):  # shown on a phone alone (views.tcss)
            for button_id, label, _ in PHONE_BUTTONS:
                yield Button(label, id=button_id, compact=True)

    def on_mount(self) -> None:
        hub_of(self).stock_changed.subscribe(self, self._stock_changed)
        self.show_ticket()
        self.show_till()
        self._read_till()

    @property
    def table(self) -> TicketTable:
        return self.query_one("#ticket", TicketTable)

    @property
    def banner(self) -> OfflineBanner:
        return self.query_one("#offline-banner", OfflineBanner)

    @property
    def entry(self) -> Input:
        return self.query_one("#entry", Input)

    # -- the entry line

    @on(Input.Submitted, "#entry")
    def _entered(self, event: Input.Submitted) -> None:
        if not event.value.strip():
            return
        try:
            self.ticket.check_editable()
            entry = parse_entry(event.value)
        except TicketError as error:
            self.say(str(error), problem=True)
            return
        self.entry.clear()
        self._look_up(entry)

    @work(group="pos-entry")  # not exclusive: a scanner's next code must not cancel this one
    async def _look_up(self, entry: Entry) -> None:
        async with self._lookups:
            try:
                product = await self.finder.find(entry.text)
            except LINK_ERRORS as error:
                if self.shop.offline is None:
                    self.say(f"{entry.text}: {describe(error)}", problem=True)
                    return
                product = self.finder.find_known(entry.text)
            except CALL_ERRORS as error:
                self.say(f"{entry.text}: {describe(error)}", problem=True)
                end_if_signed_out(self, error)
                return
            if product is not None:
                self.add(product, entry.qty)

    async def _pick(self, text: str, items: list[dict[str, Any]]) -> dict[str, Any] | None:
        return await self.app.push_screen_wait(PickProductScreen(self.shop, text, items))

    def add(self, product: dict[str, Any], qty: int) -> None:
        try:
            line = self.ticket.add(product, qty)
        except TicketError as error:
            self.say(str(error), problem=True)
            return
        self.show_ticket(cursor=line.product_id)
        said = f"{qty} x {product['name']}  {self.shop.money.format(product['price'])}"
        if product.get("last_known"):
            self.say(f"Last known price, {product['stock']} in stock then: {said}")
        elif short := self._short(line.product_id, line.qty):  # now, not only when paying
            self.say(
                f"{short.capitalize()}: {product['name']} (Tab, then x removes it)", problem=True
            )
        else:
            self.say(said)
        self._watch_ticket()

    # -- the ticket

    def show_ticket(self, cursor: int | None = None) -> None:
        """Draw the ticket; the cursor goes to `cursor`'s line, else stays where it was."""
        table, money = self.table, self.shop.money
        keep = cursor if cursor is not None else self._current_id()
        table.clear()
        for line in self.ticket.lines:
            table.add_ticket_line(line, self._short(line.product_id, line.qty))
        if keep is not None and str(keep) in table.rows:
            table.move_cursor(row=table.get_row_index(str(keep)))
        count = self.ticket.count
        self.query_one("#pos-count", Label).update(
            f"{counted(count, 'item')} · Total {money.symbol}"
        )
        total = money.format(self.ticket.total, symbol=False, whole=table.compact)
        self.query_one("#pos-total", Digits).update(total)
        self.screen.refresh_bindings()

    def _short(self, product_id: int, qty: int) -> str:
        return shortfall(qty, self.shop.book.stock(product_id, qty))

    @on(CartTable.Refit)
    def _refit(self) -> None:
        self.show_ticket()

    def _stock_changed(self, levels: dict[int, Level]) -> None:
        for line in self.ticket.lines:
            if line.product_id in levels:
                try:
                    note = self.table.note(self._short(line.product_id, line.qty))
                    self.table.update_cell(str(line.product_id), "note", note)
                except CellDoesNotExist:
                    continue

    @work(exclusive=True, group="pos-watch")
    async def _watch_ticket(self) -> None:
        """Live stock for the ticket's products, so a line short of stock shows it."""
        with quiet_link(self.post_message, "Live stock of the ticket"):
            await self.shop.watch.want("ticket", [ln.product_id for ln in self.ticket.lines])

    def _current_id(self) -> int | None:
        key = self.table.cursor_key()
        return int(key) if key is not None else None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("change", "remove"):
            return self.table.has_focus and self._current_id() is not None
        if action == "pay":
            return True if self.ticket.lines else None
        return True

    def action_change(self, delta: int) -> None:
        if (product_id := self._current_id()) is None:
            return
        line = self.ticket.line(product_id)
        if line is not None and 1 <= line.qty + delta <= MAX_QTY:
            self._set_qty(product_id, line.qty + delta)

    @on(DataTable.RowSelected, "#ticket")
    def _row_selected(self) -> None:
        """Enter on a line: type its quantity (5 instead of 45 presses of `-`)."""
        product_id = self._current_id()
        line = None if product_id is None else self.ticket.line(product_id)
        try:
            self.ticket.check_editable()
        except TicketError as error:
            self.say(str(error), problem=True)
            return
        if line is not None:
            self.app.push_screen(
                QuantityScreen(line.name, line.qty), lambda qty: self._typed(line.product_id, qty)
            )

    def _typed(self, product_id: int, qty: int | None) -> None:
        if qty == 0:
            self._remove(product_id)
        elif qty is not None:
            self._set_qty(product_id, qty)

    def _set_qty(self, product_id: int, qty: int) -> None:
        try:
            self.ticket.set_qty(product_id, qty)
        except TicketError as error:
            self.say(str(error), problem=True)
            return
        self.show_ticket()
        line = self.ticket.line(product_id)
        self.say(f"{qty} x {line.name}" if line else "")  # the line as changed

    def action_remove(self) -> None:
        if (product_id := self._current_id()) is not None:
            self._remove(product_id)

    def _remove(self, product_id: int) -> None:
        line = self.ticket.line(product_id)
        try:
            self.ticket.remove(product_id)
        except TicketError as error:
            self.say(str(error), problem=True)
            return
        self.show_ticket()
        self.say(f"Removed {line.name}." if line else "")
        self._watch_ticket()
        if not self.ticket.lines:
            self.action_entry()

    def action_entry(self) -> None:
        self.entry.focus()

    # -- paying

    def action_pay(self, method: str) -> None:
        if self.ticket.lines and not self._busy:
            self._pay(method)

    @work(group="pos-pay")
    async def _pay(self, method: str) -> None:
        self._busy = True
        try:
            await self._pay_steps(method)
        finally:
            self._busy = False

    async def _pay_steps(self, method: str) -> None:
        async with self._lookups:  # what was typed before the key is on the ticket
            pass
        if not self.shop.online and self.shop.offline is not None:
            if (refusal := offline_refusal(method, self.shop.till.status)) is not None:
                self.say(refusal, problem=True)
                return
        elif not self.shop.online and self.shop.offline_off:
            self.say(f"Offline: {self.shop.offline_off}.", problem=True)
            return
        elif self.shop.till.status != TillStatus.OPEN:
            self.say("Selling needs an open till: open it first.", problem=True)
            if not await self.app.push_screen_wait(TillOpenScreen(self.shop)):
                return
            self.show_till()
            self.say("")
        if self.ticket.in_doubt is not None:  # only that same sale, paid the same way
            method = self.ticket.in_doubt["method"]
        elif self.shop.online and not await self._stock_enough():
            return
        order = await self.app.push_screen_wait(PayScreen(self.shop, self.ticket, method))
        self.show_till()
        if order is None:
            self.show_ticket()  # a definite refusal may have said why in the dialog
            return
        self.ticket.new_sale()
        self.show_ticket()
        self._watch_ticket()
        total = self.shop.money.format(order["total"])
        if order["id"] is None:
            self.say(f"Sold offline: receipt {order['receipt']}, {total}; sent when online.")
            self.banner.show()
        else:
            self.say(f"Sold: order #{order['id']}, {total}.")
        await self._show_receipt(order)
        self.action_entry()

    async def _stock_enough(self) -> bool:
        """Whether every line is in stock; if not, the first short line is put under the
        cursor, with what to do (the shop would refuse the sale). A line short as last heard
        is asked of the shop first: a stock push missed must not stop a sale."""
        for line in self.ticket.lines:
            if line.qty <= self.shop.book.stock(line.product_id, line.qty):
                continue
            try:
                stock = (await self.shop.product(line.product_id))["stock"]
            except CALL_ERRORS:
                return True  # the sale itself will say
            if line.qty > stock:
                # short, beside the total; the line is under the cursor, so it names none
                said = f"Only {stock} left: - lowers this line, x removes it."
                self.say(said if stock > 0 else "Sold out: x removes this line.", problem=True)
                self.show_ticket(cursor=line.product_id)
                self.table.focus()
                return False
        return True

    async def _show_receipt(self, order: dict[str, Any]) -> None:
        till, user = self.shop.till, self.shop.user
        text = receipt_text(
            self.shop.name,
            self.shop.money,
            order,
            station=till.station,
            clerk=user["username"],
        )
        saved = ""  # a browser tab keeps no file: it would be the web host's
        if self.shop.keeps_files:
            try:
                saved = f"Receipt saved: {save_receipt(text, receipt_number(order))}"
            except OSError as error:
                saved = f"Receipt not saved: {error.strerror or error}."
        await self.app.push_screen_wait(ReceiptScreen(self.shop.money, order, text, saved))

    # -- the till

    def show_till(self) -> None:
        till, money = self.shop.till, self.shop.money
        if till.status == TillStatus.OPEN:
            text = f"Till {till.station} open"
            if till.opening_cash is not None:
                text += f" · opened with {money.format(till.opening_cash)}"
            text += " · F8 closes it"
        elif till.status == TillStatus.CLOSED:
            text = "Till closed: F8 opens it (selling needs an open till)"
        else:
            text = "Till: F8 to open it, or to carry on with the one open already"
        label = self.query_one("#till-line", Label)
        label.update(text)
        label.set_class(till.status != TillStatus.OPEN, "till-closed")

    @work(group="pos-till")
    async def _read_till(self) -> None:
        """Ask the server for the clerk's open till (opened earlier, or elsewhere)."""
        with quiet_link(self.post_message, "Till"):
            await self.shop.read_till()
        self.show_till()

    def action_till(self) -> None:
        if not self._busy:
            self._till()

    @work(group="pos-till")
    async def _till(self) -> None:
        self._busy = True
        try:
            if self.shop.till.status != TillStatus.OPEN:
                await self.app.push_screen_wait(TillOpenScreen(self.shop))
            elif await self._may_close():
                await self.app.push_screen_wait(TillCloseScreen(self.shop))
        finally:
            self._busy = False
        self.show_till()
        self.banner.show()
        self.action_entry()

    async def _may_close(self) -> bool:
        if not self.shop.online:
            self.say(
                "Closing the till needs the shop's server, which reckons its cash.", problem=True
            )
            return False
        return await self.banner.may_close_till()

    # -- the sales the shop refused

    def action_refused(self) -> None:
        if not self._busy:
            self._review_refused()

    @work(group="pos-refused")
    async def _review_refused(self) -> None:
        self._busy = True
        try:
            await self.app.push_screen_wait(RefusedSalesScreen(self.shop))
        finally:
            self._busy = False
        self.banner.show()
        self.action_entry()

    # -- the message line

    def say(self, text: str, *, problem: bool = False) -> None:
        label = self.query_one("#pos-message", Label)
        label.update(text)
        label.set_class(problem, "problem")

    @on(Button.Pressed, "#pos-buttons Button")
    async def _button(self, event: Button.Pressed) -> None:
        event.stop()
        actions = {button_id: action for button_id, _, action in PHONE_BUTTONS}
        await self.run_action(actions[event.button.id or ""])

    @on(DataTable.RowHighlighted, "#ticket")
    def _row_highlighted(self) -> None:
        self.screen.refresh_bindings()
