"""Paying for the ticket at the till: cash (what was handed over, and the change), or a card
or e-wallet token. Enter asks to confirm, naming the amount; Enter again sells.

The sale's idempotency key belongs to the ticket (`Ticket.idempotency_key`): when the link
drops while selling, the sale is sent again with it. After a doubtful answer (a failed link,
`unavailable`: it may have gone through) the ticket is locked to that sale (`Ticket.in_doubt`)
and this dialog offers only to send it again, same key, lines and payment, or to abandon it
once the clerk confirms it was not sold; so it is charged at most once even if this dialog is
closed and opened again. After a definite answer (declined, short of stock) the next try is
a new sale.

While the server is away, a cash sale is rung up offline: queued on the station's disk
with its own key and receipt number (`Shop.ring_up_offline`), and dismissed with what the
receipt shows (an order without an `id`).
"""

from __future__ import annotations

import sqlite3
from typing import Any, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Digits, Footer, Input, Label

from client_tui.errors import CALL_ERRORS, LINK_ERRORS, describe, end_if_signed_out
from client_tui.orderfmt import counted
from client_tui.screens.checkout import DEFAULT_TOKENS
from client_tui.screens.confirm import ConfirmScreen
from client_tui.shop import Shop
from client_tui.ticket import Ticket, short_line
from protocol.errors import (
    Conflict,
    InvalidState,
    NotFound,
    OutOfStock,
    PaymentDeclined,
    Unavailable,
)

METHOD_NAMES = {"cash": "cash", "card": "card", "ewallet": "e-wallet"}
MAX_TENDERED = 10**12
DOUBT = "The ticket and the payment stay as they are until then; this sale is charged at most once."


class PayScreen(ModalScreen[dict[str, Any] | None]):
    """Dismissed with the order sold, or None when the clerk backs out."""

    AUTO_FOCUS = "#tendered, #token"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back to the ticket"),
        Binding("enter", "again", "Send again"),  # the field is disabled while in doubt
        Binding("a", "abandon", "Abandon: it was not sold"),
    ]

    def __init__(self, shop: Shop, ticket: Ticket, method: str) -> None:
        super().__init__()
        self.shop = shop
        self.ticket = ticket
        self.method = method
        self.selling = False

    def compose(self) -> ComposeResult:
        money = self.shop.money
        with Vertical(id="pay-dialog", classes="dialog") as dialog:
            dialog.border_title = f"Pay by {METHOD_NAMES[self.method]}"
            count = self.ticket.count
            yield Label(
                f"{counted(count, 'item')} · Total {money.symbol}",
                id="pay-summary",
            )
            yield Digits(money.format(self.ticket.total, symbol=False), id="pay-total")
            with Horizontal(id="pay-entry"):
                if self.method == "cash":
                    yield Label("Cash handed over", id="pay-label")
                    yield Input(
                        placeholder="empty: the exact amount",
                        id="tendered",
                        compact=True,
                    )
                else:
                    yield Label("Payment token", id="pay-label")
                    yield Input(DEFAULT_TOKENS[self.method], id="token", compact=True)
            yield Label(self._hint(""), id="pay-hint")
            yield Label("", id="pay-problem")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#pay-problem", Label).display = False
        if self.ticket.in_doubt is not None:
            self._problem(DOUBT)
        self._set_selling(False)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("again", "abandon"):
            return self.ticket.in_doubt is not None and not self.selling
        return True

    def _hint(self, typed: str) -> str:
        """Under the field: the change (cash), or how the demo provider answers."""
        if self.ticket.in_doubt is not None:
            return "Enter sends the same sale again; A abandons it if it was not sold."
        if self.method != "cash":
            return 'The demo provider declines the token "decline" and approves any other.'
        if not typed.strip():
            return "Enter: sell for the exact amount, no change."
        try:
            change = self.shop.money.parse(typed) - self.ticket.total
        except ValueError as error:
            return str(error)
        money = self.shop.money
        return f"Change {money.format(change)}" if change >= 0 else f"Short {money.format(-change)}"

    @on(Input.Changed, "#tendered")
    def _tendered_changed(self, event: Input.Changed) -> None:
        self.query_one("#pay-hint", Label).update(self._hint(event.value))

    @on(Input.Changed)
    def _retyped(self) -> None:
        """What was said of the amount or token as it was goes once it is typed again (a
        sale in doubt keeps its warning: that is not about what is typed)."""
        if self.ticket.in_doubt is None:
            self.query_one("#pay-problem", Label).display = False

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        if self.selling:
            return
        try:
            payment = self._payment(event.value)
        except ValueError as error:
            self._problem(str(error))
            return
        self._confirm_and_sell(payment)

    def _payment(self, typed: str) -> dict[str, Any]:
        """The `payment` argument of `clerk.sale`; ValueError says what is wrong."""
        if self.method != "cash":
            if not typed.strip():
                raise ValueError("Enter the payment token.")
            return {"method": self.method, "token": typed.strip()}
        if not typed.strip():
            return {"method": "cash"}
        tendered = self.shop.money.parse(typed)
        if tendered > MAX_TENDERED:
            raise ValueError("That is more cash than a till takes.")
        if tendered < self.ticket.total:
            short = self.shop.money.format(self.ticket.total - tendered)
            raise ValueError(f"That is {short} short of the total.")
        return {"method": "cash", "tendered": tendered}

    def _question(self, payment: dict[str, Any]) -> ConfirmScreen:
        money, total = self.shop.money, self.ticket.total
        count = self.ticket.count
        items = counted(count, "item")
        if payment["method"] == "cash":
            tendered = payment.get("tendered", total)
            what = (
                f"Sell {items} for cash: {money.format(tendered)} handed over, "
                f"give {money.format(tendered - total)} change."
            )
            if self._offline(payment):
                what += " Offline: kept on this station and sent when the shop answers."
            return ConfirmScreen("Sell for cash?", what, f"Total {money.format(total)}", go="Sell")
        what = f"Charge the {METHOD_NAMES[payment['method']]} for {items}."
        return ConfirmScreen(
            f"Charge {money.format(total)}?", what, f"Charge {money.format(total)}", go="Charge"
        )

    @work(exclusive=True, group="pay")
    async def _confirm_and_sell(self, payment: dict[str, Any]) -> None:
        if not await self.app.push_screen_wait(self._question(payment)):
            return
        if self._offline(payment):
            self._ring_up_offline(payment)
            return
        self._set_selling(True)
        try:
            order = await self.shop.sell(
                self.ticket.sale_lines(), payment, self.ticket.idempotency_key, self.ticket.total
            )
        except Conflict as error:
            if error.details.get("reason") == "total_changed":
                self.ticket.renew_key()
                await self._reprice()
            else:
                self._refused(error, payment)
            return
        except CALL_ERRORS as error:
            self._refused(error, payment)
            return
        finally:
            self._set_selling(False)
        self.dismiss(order)

    async def _reprice(self) -> None:
        """A price changed since the ticket read it: the lines take the shop's prices now,
        and the dialog says the new total, which the next Enter asks to charge."""
        before = self.ticket.total
        try:  # every price read first: the ticket takes them all or none
            prices = [(await self.shop.product(ln.product_id))["price"] for ln in self.ticket.lines]
        except CALL_ERRORS as error:
            self._problem(f"A price changed: nothing was sold. {describe(error)}")
            return
        for line, price in zip(self.ticket.lines, prices, strict=True):
            line.unit_price = price
        money = self.shop.money
        self._show_total()
        self._problem(
            f"A price changed: the sale comes to {money.format(self.ticket.total)}, not "
            f"{money.format(before)}. Nothing was sold. Tell the customer; Enter charges it."
        )

    def _show_total(self) -> None:
        total = self.shop.money.format(self.ticket.total, symbol=False)
        self.query_one("#pay-total", Digits).update(total)
        self.query_one("#pay-hint", Label).update(self._hint(self._typed()))

    def _offline(self, payment: dict[str, Any]) -> bool:
        """A new cash sale while the server is away (a sale in doubt is only ever sent
        again as it was: another key could sell the same goods twice)."""
        return (
            payment["method"] == "cash"
            and not self.shop.online
            and self.shop.offline is not None
            and self.ticket.in_doubt is None
        )

    def _ring_up_offline(self, payment: dict[str, Any]) -> None:
        try:
            sale = self.shop.ring_up_offline(self.ticket.offline_lines(), payment.get("tendered"))
        except (sqlite3.Error, OSError) as error:
            self._problem(
                f"This station could not keep the sale on its disk ({error}): nothing was sold."
            )
            return
        self.dismiss(sale.order(self.ticket.names()))

    def _refused(self, error: BaseException, payment: dict[str, Any]) -> None:
        """Say what happened, and start a new sale (a new key) unless the last one may
        still have gone through: then the ticket stays locked to that sale."""
        doubt = self._doubt(error)
        if doubt is not None:
            self.ticket.in_doubt = payment
            self._problem(f"{doubt} {DOUBT}")
            return
        self.ticket.renew_key()
        self._problem(self._definite(error))
        end_if_signed_out(self, error)

    @staticmethod
    def _doubt(error: BaseException) -> str | None:
        """Why the sale may have gone through, or None for a definite answer."""
        if isinstance(error, LINK_ERRORS):
            return "The link to the shop failed while selling: send again once connected."
        if isinstance(error, Conflict) and error.details.get("reason") == "in_progress":
            return "This sale is still going through: send it again in a moment."
        if isinstance(error, Unavailable):
            return (
                "The payment provider has not answered. The shop settles the sale within "
                "two minutes: send it again then."
            )
        return None

    def _definite(self, error: BaseException) -> str:
        details = getattr(error, "details", {})
        if isinstance(error, PaymentDeclined) and details.get("reason") == "insufficient_cash":
            return "The cash handed over is less than the total: nothing was sold."
        if isinstance(error, PaymentDeclined):
            reason = details.get("reason") or "no reason given"
            return (
                f"Payment declined ({reason}). Nothing was charged and the ticket is kept: "
                "try again, or Escape and pay another way."
            )
        if isinstance(error, OutOfStock):
            line = self.ticket.line(details.get("product_id", 0))
            name = line.name if line else f"product {details.get('product_id')}"
            wrong, to_do = short_line(name, details.get("available", 0))
            return f"Nothing was sold: {wrong}. Escape, then {to_do}."
        if isinstance(error, NotFound):  # archived since it was put on the ticket
            line = self.ticket.line(details.get("id", 0))
            name = line.name if line else f"product {details.get('id')}"
            return f"Nothing was sold: {name} is no longer sold. Escape, then x removes its line."
        if isinstance(error, InvalidState) and details.get("reason") == "no_open_register":
            self.shop.till.closed()
            return "The till is closed (closed at another station?): Escape, then F8 opens it."
        if isinstance(error, Conflict):
            return "The shop holds another sale under this one's key. Enter sells this ticket."
        return describe(error)

    def _set_selling(self, selling: bool) -> None:
        self.selling = selling
        for field in self.query(Input):
            field.disabled = selling or self.ticket.in_doubt is not None
        if selling:
            self.query_one("#pay-problem", Label).display = False
            self.query_one("#pay-hint", Label).update("Selling…")
        else:
            self.query_one("#pay-hint", Label).update(self._hint(self._typed()))
            self.query(Input).first().focus()
        self.refresh_bindings()

    def _typed(self) -> str:
        return self.query(Input).first().value

    def _problem(self, text: str) -> None:
        problem = self.query_one("#pay-problem", Label)
        problem.update(text)
        problem.display = True

    def action_again(self) -> None:
        if self.ticket.in_doubt is not None and not self.selling:
            self._confirm_and_sell(self.ticket.in_doubt)

    def action_abandon(self) -> None:
        if self.ticket.in_doubt is not None and not self.selling:
            self._abandon()

    @work(exclusive=True, group="pay")
    async def _abandon(self) -> None:
        question = ConfirmScreen(
            "Abandon this sale?",
            "Only if it was not sold (not among the till's orders, not charged): the ticket "
            "can change again and the next try is a new sale.",
            f"Total {self.shop.money.format(self.ticket.total)}",
            go="Abandon",
        )
        if not await self.app.push_screen_wait(question):
            return
        self.ticket.renew_key()
        self.query_one("#pay-problem", Label).display = False
        self._set_selling(False)

    def action_back(self) -> None:
        if not self.selling:
            self.dismiss(None)
