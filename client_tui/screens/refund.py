"""Refund some or all units of an order: choose the units per line, see the amount, and
confirm it once more before anything is sent (PROTOCOL.md `clerk.refund`). The units go
back to stock. The dialog stays open on a refusal, saying why. A refund the payment provider
did not confirm is recorded all the same and is not sent again: the clerk settles it with the
provider."""

from __future__ import annotations

from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, Checkbox, Footer, Input, Label

from client_tui.cut import Folded
from client_tui.errors import CALL_ERRORS, describe
from client_tui.orderfmt import customer_text, payment_method, status_text, units
from client_tui.retrykey import RetryKey
from client_tui.screens.confirm import ConfirmScreen
from client_tui.screens.dialog import Dialog, field_row
from client_tui.shop import Shop
from client_tui.till import TillStatus
from protocol.errors import InvalidState, Unavailable

NO_TILL = (
    "No till is open: the cash would come out of a drawer no till counts. Close this dialog, "
    "open the till at the point of sale (F3, then F8), then refund."
)


def remaining(line: dict[str, Any]) -> int:
    return int(line["qty"]) - int(line.get("refunded_qty", 0))


class RefundScreen(Dialog[dict[str, Any] | None]):
    """Dismissed with the order as the refund left it, or None when backed out."""

    NAME = "refund"

    def __init__(self, shop: Shop, order: dict[str, Any]) -> None:
        super().__init__()
        self.shop = shop
        self.order = order
        self.lines = [line for line in order.get("lines", []) if remaining(line) > 0]
        self.busy = False
        self.retry = RetryKey()
        self.recorded = False  # the refund is recorded: nothing to send again

    def compose(self) -> ComposeResult:
        order, money = self.order, self.shop.money
        with Vertical(id="refund-dialog", classes="dialog") as dialog:
            dialog.border_title = f"Refund order #{order['id']}"
            yield Label(
                f"{customer_text(order)} · {status_text(order)} · paid by "
                f"{payment_method(order)} · {money.format(order['total'])}",
                id="refund-order",
            )
            with VerticalScroll(id="refund-lines"):
                for line in self.lines:
                    with Horizontal(classes="refund-line"):
                        yield Label(Folded(line["name"]), classes="refund-name")
                        yield Label(
                            f"{remaining(line)} of {line['qty']} x "
                            f"{money.format(line['unit_price'])}",
                            classes="refund-left",
                        )
                        yield Input(
                            placeholder="0",
                            type="integer",
                            max_length=4,
                            id=f"refund-{line['product_id']}",
                            classes="refund-units",
                            compact=True,
                        )
            yield field_row(
                "Reason",
                Input(
                    placeholder="damaged, wrong item…",
                    max_length=200,
                    id="refund-reason",
                    compact=True,
                ),
            )
            yield Checkbox("Back on sale (untick if spoilt)", True, id="restock", compact=True)
            yield Label("", id="refund-amount")
            yield self.problem_line()
            with Horizontal(classes="buttons"):
                yield Button("Refund", id="refund", variant="error", compact=True)
                yield Button("All units", id="refund-all", compact=True)
                yield Button("Back", id="refund-back", compact=True)
        yield Footer()

    def on_mount(self) -> None:
        inputs = self.query(".refund-units")
        self.set_focus(inputs.first() if inputs else self.query_one("#refund-back"))
        self._show_amount()

    def chosen(self) -> dict[int, int] | str:
        """Units to refund by product id, or what is wrong with the numbers typed."""
        chosen: dict[int, int] = {}
        for line in self.lines:
            text = self.query_one(f"#refund-{line['product_id']}", Input).value.strip() or "0"
            count = int(text) if text.isdigit() else -1
            if not 0 <= count <= remaining(line):
                return f"{line['name']}: enter 0 to {units(remaining(line))}."
            if count:
                chosen[line["product_id"]] = count
        return chosen

    def amount(self, chosen: dict[int, int]) -> int:
        return sum(line["unit_price"] * chosen.get(line["product_id"], 0) for line in self.lines)

    @on(Input.Changed, ".refund-units")
    def _show_amount(self) -> None:
        chosen = self.chosen()
        if isinstance(chosen, str):
            self.query_one("#refund-amount", Label).update(chosen)
            return
        self.query_one("#refund-problem", Label).display = False  # of numbers since retyped
        money = self.shop.money.format(self.amount(chosen))
        count = sum(chosen.values())
        self.query_one("#refund-amount", Label).update(
            f"Refund {units(count)}: {money} {self.destination}"
        )
        button = self.query_one("#refund", Button)
        button.label = f"Refund {money}"
        button.refresh(layout=True)  # a Button's label is not a layout reactive

    @property
    def restock(self) -> bool:
        return self.query_one("#restock", Checkbox).value

    @property
    def destination(self) -> str:
        method = payment_method(self.order).lower()
        return "in cash from the drawer" if method == "cash" else f"to the {method}"

    @on(Button.Pressed, "#refund-all")
    def _all(self) -> None:
        for line in self.lines:
            self.query_one(f"#refund-{line['product_id']}", Input).value = str(remaining(line))

    @on(Input.Submitted, ".refund-units")
    def _next_field(self) -> None:
        self.focus_next()

    @on(Button.Pressed, "#refund")
    @on(Input.Submitted, "#refund-reason")
    def _refund_pressed(self) -> None:
        chosen = self.chosen()
        reason = self.query_one("#refund-reason", Input).value.strip()
        if isinstance(chosen, str):
            self.show_problem(chosen)
        elif not chosen:
            self.show_problem("Choose the units to refund (All units chooses every one).")
        elif not reason:
            self.show_problem("Enter a reason: it is kept with the refund.")
            self.query_one("#refund-reason", Input).focus()
        elif not self.busy and not self.recorded:
            self._refund(chosen, reason)

    @work(exclusive=True, group="refund")
    async def _refund(self, chosen: dict[int, int], reason: str) -> None:
        if (no_till := await self._no_till_for_cash()) is not None:
            self.show_problem(no_till)
            return
        if not await self.app.push_screen_wait(self._question(chosen)):
            return
        self.busy = True
        restock = self.restock
        key = self.retry.key(tuple(sorted(chosen.items())), reason, restock)
        try:
            order = await self.shop.refund(self.order["id"], chosen, reason, key, restock=restock)
        except InvalidState as error:
            self.show_problem(self._refused(error))
            return
        except Unavailable as error:
            if error.details.get("reason") != "provider":
                self.show_problem(describe(error))
                return
            self._not_paid_back(error.details.get("refund_id"))
            return
        except CALL_ERRORS as error:
            self.failed(error, "it refunds once")
            return
        finally:
            self.busy = False
        self.app.notify(
            f"Order #{order['id']}: {self.shop.money.format(self.amount(chosen))} refunded.",
            title="Refunded",
        )
        self.dismiss(order)

    async def _no_till_for_cash(self) -> str | None:
        """Why a clerk may not pay this back in cash now, or None. Cash comes out of the
        till's drawer: the clerk's till must be open, so that its close counts it. The
        server is asked each time (the server records a refund with no till, and one
        opened or closed at another station counts). An admin has no till."""
        cash = (self.order.get("payment") or {}).get("method") == "cash"
        if not cash or self.shop.role != "clerk":
            return None
        try:
            await self.shop.read_till()
        except CALL_ERRORS as error:
            return describe(error)
        return None if self.shop.till.status == TillStatus.OPEN else NO_TILL

    def _not_paid_back(self, refund_id: int | None) -> None:
        """The refund is recorded (units back in stock) but the provider did not confirm
        paying the money back: sending it again would answer the same, and the server never
        asks the provider twice, so the Refund button goes and the clerk settles it by hand."""
        self.recorded = True
        self.query_one("#refund", Button).display = False
        self.show_problem(
            f"Refund {refund_id} is recorded, its units with it, but the payment "
            f"provider did not confirm paying the money back. Settle refund {refund_id} with "
            "the provider; do not refund this order again."
        )

    def _refused(self, error: InvalidState) -> str:
        """Refunded or moved on meanwhile (at another station, say): nothing was refunded."""
        if error.details.get("reason") == "over_refund":
            line = next(
                (ln for ln in self.lines if ln["product_id"] == error.details.get("product_id")),
                None,
            )
            name = line["name"] if line else "a product"
            return (
                f"Fewer units of {name} are left to refund than chosen: refunded meanwhile? "
                "Nothing was refunded. Close this and open the refund again to see what is left."
            )
        return f"Nothing was refunded: the order is {error.details.get('status', 'changed')} now."

    def _question(self, chosen: dict[int, int]) -> ConfirmScreen:
        money = self.shop.money.format(self.amount(chosen))
        names = ", ".join(
            f"{chosen[line['product_id']]} x {line['name']}"
            for line in self.lines
            if line["product_id"] in chosen
        )
        last = all(chosen.get(line["product_id"], 0) == remaining(line) for line in self.lines)
        units_go = "back on sale" if self.restock else "not put back on sale"
        sentences = [f"{money} is paid back {self.destination}; {names}: {units_go}."]
        if last:
            sentences.append("Every unit is then refunded: the order becomes refunded.")
        return ConfirmScreen(
            f"Refund order #{self.order['id']}?",
            " ".join(sentences),
            f"Refund {money}",
            go="Refund",
        )
