"""One order: its lines, total, payment and status, kept live by `order` pushes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Label, Static

from client_tui import timefmt
from client_tui.cut import Folded
from client_tui.errors import CALL_ERRORS, report
from client_tui.hub import hub_of
from client_tui.money import Money
from client_tui.orderfmt import (
    customer_text,
    headline,
    item_count,
    payment_method,
    payment_text,
    status_text,
    units,
    unrefunded_total,
)
from client_tui.screens.confirm import ConfirmScreen
from client_tui.screens.refund import RefundScreen
from client_tui.screens.ship import ShipScreen
from client_tui.shop import Shop
from client_tui.widgets.product_table import COMPACT_BELOW
from protocol.rules import OrderStatus

REFUNDABLE = frozenset(
    {OrderStatus.PAID, OrderStatus.SHIPPED, OrderStatus.DELIVERED, OrderStatus.COMPLETED}
)
# (action, button label, the statuses it applies to, who may)
ORDER_ACTIONS: tuple[tuple[str, str, frozenset[str], str], ...] = (
    ("cancel_order", "Cancel order", frozenset({OrderStatus.PAID}), "anyone"),
    ("ship", "Ship…", frozenset({OrderStatus.PAID}), "staff"),
    ("deliver", "Mark delivered", frozenset({OrderStatus.SHIPPED}), "staff"),
    ("refund", "Refund…", REFUNDABLE, "staff"),
)


def allowed(shop: Shop, action: str, order: dict[str, Any] | None) -> bool:
    """May this user do `action` to `order` now (by its status and their role)?"""
    if order is None:
        return False
    for name, _, statuses, who in ORDER_ACTIONS:
        if name == action:
            return order.get("status") in statuses and (who == "anyone" or shop.is_staff)
    return False


async def apply(
    app: App[Any], shop: Shop, action: str, order: dict[str, Any]
) -> dict[str, Any] | None:
    """Do `action` to `order`, asking first what it needs: a cancel and a delivery are
    confirmed, a shipment takes its tracking reference, a refund its units (and is
    confirmed). Returns the changed order; None when the user backed out. Run it in a
    worker: the dialogs wait for their answers."""
    if action == "cancel_order":
        if not await app.push_screen_wait(cancel_question(shop, order)):
            return None
        return await shop.cancel(order["id"])
    if action == "ship":
        tracking = await app.push_screen_wait(ShipScreen(order))
        if tracking is None:
            return None
        shipped = await shop.ship(order["id"], tracking)
        ref = f", tracking {tracking}" if tracking else ", without tracking"
        app.notify(f"Order #{order['id']} is shipped{ref}.", title="Shipped")
        return shipped
    if action == "refund":
        return await app.push_screen_wait(RefundScreen(shop, order))
    if not await app.push_screen_wait(deliver_question(shop, order)):
        return None
    delivered = await shop.deliver(order["id"])
    app.notify(f"Order #{order['id']} is marked delivered.", title="Delivered")
    return delivered


def deliver_question(shop: Shop, order: dict[str, Any]) -> ConfirmScreen:
    tracking = f" (tracking {order['tracking']})" if order.get("tracking") else ""
    return ConfirmScreen(
        f"Mark order #{order['id']} delivered?",
        f"Order #{order['id']} for {customer_text(order)}{tracking} is marked delivered: "
        "the customer sees it at once. It cannot be undone; a refund is still possible.",
        f"Order #{order['id']} · {item_count(order, refunds=True)} · "
        f"{shop.money.format(unrefunded_total(order))}",
        go="Mark delivered",
        back="Not yet",
    )


def cancel_question(shop: Shop, order: dict[str, Any]) -> ConfirmScreen:
    refund = shop.money.format(unrefunded_total(order))
    count = sum(line["qty"] - line.get("refunded_qty", 0) for line in order.get("lines", []))
    whose = "your" if shop.is_customer else "the customer's"
    return ConfirmScreen(
        f"Cancel order #{order['id']}?",
        f"The order is cancelled for good: {units(count)} back on sale, and {refund} "
        f"refunded to {whose} {payment_method(order).lower()}.",
        f"Refund {refund}",
        go="Cancel order",
        back="Keep order",
    )


class OrderScreen(ModalScreen[None]):
    AUTO_FOCUS = "#close"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss", "Close"),
        Binding("x", "act('cancel_order')", "Cancel order"),
        Binding("s", "act('ship')", "Ship"),
        Binding("d", "act('deliver')", "Deliver"),
        Binding("f", "act('refund')", "Refund"),
    ]

    def __init__(self, shop: Shop, order: dict[str, Any], *, thanks: bool = False) -> None:
        super().__init__()
        self.shop = shop
        self.order = order
        self.thanks = thanks
        self.compact = False  # the lines laid out for a phone: set by `show`

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="order-dialog", classes="dialog") as dialog:
            dialog.border_title = f"Order #{self.order['id']}"
            if self.thanks:
                yield Label("", id="order-thanks")
            yield Label("", id="order-status")
            yield Static("", id="order-lines")
            yield Label("", id="order-payment")
            with Horizontal(classes="buttons"):
                for action, label, _, _ in ORDER_ACTIONS:
                    yield Button(label, id=f"do-{action}", compact=True)
                yield Button("Close", id="close", variant="primary", compact=True)
        yield Footer()

    def on_mount(self) -> None:
        hub_of(self).order_changed.subscribe(self, self._order_changed)
        self.show(self.order)

    def show(self, order: dict[str, Any]) -> None:
        self.order = order
        if self.thanks:
            self.query_one("#order-thanks", Label).update(headline(order))
        money = self.shop.money
        placed = timefmt.when(order.get("created_at"))
        tracking = order.get("tracking")
        self.query_one("#order-status", Label).update(
            f"Status: {status_text(order)}"
            + (f" · tracking {tracking}" if tracking else "")
            + (f" · placed {placed}" if placed else "")
        )
        self.compact = self.app.size.width < COMPACT_BELOW
        self.query_one("#order-lines", Static).update(lines_table(order, money, self.compact))
        self.query_one("#order-payment", Label).update(payment_text(order))
        for action, _, _, _ in ORDER_ACTIONS:
            self.query_one(f"#do-{action}", Button).display = allowed(self.shop, action, order)
        self.refresh_bindings()

    def on_resize(self) -> None:
        """A phone turned: the lines laid out again for the width."""
        if (self.app.size.width < COMPACT_BELOW) != self.compact:
            self.show(self.order)

    def _order_changed(self, order: dict[str, Any]) -> None:
        if order.get("id") == self.order.get("id"):
            self.show(order)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "act":
            return allowed(self.shop, str(parameters[0]), self.order)
        return True

    def action_act(self, action: str) -> None:
        if allowed(self.shop, action, self.order):
            self._act(action)

    @on(Button.Pressed)
    def _button(self, event: Button.Pressed) -> None:
        if event.button.id == "close":
            self.dismiss()
        elif event.button.id and event.button.id.startswith("do-"):
            self.action_act(event.button.id.removeprefix("do-"))

    @work(exclusive=True, group="order-action")
    async def _act(self, action: str) -> None:
        try:
            order = await apply(self.app, self.shop, action, self.order)
        except CALL_ERRORS as error:
            report(self, error, f"Order #{self.order['id']}")
            return
        if order is None:
            return
        self.show(order)
        hub_of(self).order_changed.publish(order)


def lines_table(order: dict[str, Any], money: Money, compact: bool) -> Table:
    """The order's lines and total, and after a refund what was refunded and what is still
    paid. A long name folds, so its size stays in view; `compact` (a phone): amounts without
    the zero cents, as in the cart, and no unit price."""

    def amount(minor: int) -> str:
        return money.format(minor, whole=compact)

    lines = order.get("lines", [])
    columns: dict[str, Callable[[dict[str, Any]], str]] = {"Qty": lambda line: str(line["qty"])}
    if any(line.get("refunded_qty") for line in lines):
        columns["Refunded"] = lambda line: str(line.get("refunded_qty", 0))
    if not compact:
        columns["Price"] = lambda line: amount(line["unit_price"])
    columns["Total"] = lambda line: amount(line["line_total"])
    table = Table(box=None, expand=True, pad_edge=False)
    table.add_column("Product", ratio=1)
    for header in columns:
        table.add_column(header, justify="right")
    for line in lines:
        table.add_row(Folded(line["name"]), *(cell(line) for cell in columns.values()))
    gap = [""] * (len(columns) - 1)
    table.add_row(Text("Total", style="bold"), *gap, Text(amount(order["total"])))
    kept = unrefunded_total(order)
    if kept != order["total"] and order.get("status") != OrderStatus.CANCELLED:
        table.add_row("Refunded", *gap, amount(kept - order["total"]))
        table.add_row(Text("Paid after refunds", style="bold"), *gap, Text(amount(kept)))
    return table
