"""The sales rung up offline that the shop's server refused for good (a product it does
not know, a receipt number taken, a bad argument): their cash is in the drawer, yet the
shop has no order for them, so a person must reconcile each by hand.

The list shows each sale's receipt, when it was rung up, its lines and amount, and the
server's reason. Enter (or *Dismiss*) takes the highlighted one off the till once a
question naming its receipt and amount is answered; it stays in `offline.db`, marked
dismissed, for the records.
"""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, DataTable, Footer, Static

from client_tui import timefmt
from client_tui.offline_queue import QueuedSale
from client_tui.screens.confirm import ConfirmScreen
from client_tui.screens.dialog import Dialog, highlighted, row_table
from client_tui.shop import Shop

COLUMNS = (  # key, label, width: together they fit the dialog at 80 columns
    ("receipt", "Receipt", 11),
    ("at", "Rung up", 12),
    ("amount", "Amount", 14),
    ("why", "Refused because", 26),
)
WHAT_TO_DO = (
    "The cash of these sales is in the drawer but the shop has no order for them. Settle "
    "each by hand (ring it up again online, or hand the cash back), then dismiss it here."
)


class RefusedSalesScreen(Dialog[None]):
    """The refused offline sales; Enter dismisses the highlighted one after a question."""

    NAME = "refused"
    AUTO_FOCUS = "#refused"

    def __init__(self, shop: Shop) -> None:
        super().__init__()
        self.shop = shop
        self.sales: dict[str, QueuedSale] = {}

    def compose(self) -> ComposeResult:
        with Vertical(id="refused-dialog", classes="dialog") as dialog:
            dialog.border_title = "Sales rung up offline, refused by the shop"
            yield Static(WHAT_TO_DO, id="refused-what")
            yield row_table("refused", COLUMNS)
            yield Static("", id="refused-lines")
            with Horizontal(classes="buttons"):
                yield Button("Dismiss (Enter)", id="refused-dismiss", variant="error", compact=True)
                yield Button("Back (Esc)", id="refused-back", compact=True)
        yield Footer()

    def on_mount(self) -> None:
        self.load()

    def load(self) -> None:
        table = self.query_one("#refused", DataTable)
        table.clear()
        self.sales = {}
        money = self.shop.money
        for sale in self.shop.refused_sales():
            self.sales[sale.idempotency_key] = sale
            table.add_row(
                sale.receipt,
                timefmt.when(sale.offline_at),
                money.format(sale.total),
                sale.problem or "",
                key=sale.idempotency_key,
            )
        self._show_lines()

    @property
    def highlighted(self) -> QueuedSale | None:
        return highlighted(self.query_one("#refused", DataTable), self.sales)

    @on(DataTable.RowHighlighted, "#refused")
    def _show_lines(self) -> None:
        """The highlighted sale's lines and reason in full (the columns cut them short)."""
        sale = self.highlighted
        text = "No refused sales: nothing to settle." if sale is None else self._lines(sale)
        self.query_one("#refused-lines", Static).update(text)

    def _lines(self, sale: QueuedSale) -> str:
        money = self.shop.money
        lines = [
            f"{line['qty']} x {line['name']}  {money.format(line['line_total'])}"
            for line in sale.order(self.shop.known_names())["lines"]
        ]
        return "\n".join([f"{sale.receipt}: {sale.problem}", *lines])

    @on(DataTable.RowSelected, "#refused")
    @on(Button.Pressed, "#refused-dismiss")
    def _dismiss_pressed(self) -> None:
        if (sale := self.highlighted) is not None:
            self._dismiss_sale(sale)

    @work(exclusive=True, group="refused-dismiss")
    async def _dismiss_sale(self, sale: QueuedSale) -> None:
        amount = self.shop.money.format(sale.total)
        question = ConfirmScreen(
            f"Dismiss the refused sale {sale.receipt}?",
            f"Receipt {sale.receipt} ({amount} in cash) leaves this till's list. The shop has "
            "no order for it: reconcile its cash by hand first.",
            f"{sale.receipt} · {amount}",
            go="Dismiss",
        )
        if not await self.app.push_screen_wait(question):
            return
        if self.shop.dismiss_refused(sale):
            self.app.notify(f"Receipt {sale.receipt} ({amount}) dismissed.", title="Dismissed")
        self.load()
