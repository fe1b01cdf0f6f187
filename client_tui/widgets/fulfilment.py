"""Fulfilment, for staff: online orders to ship, live, with a status filter.

`order.subscribe` (PROTOCOL.md 12.5) gives the paid orders waiting, oldest first, and from
then on an `order` event for every online order's status change. So a new paid order joins
the queue by itself, marked `new`, and the tab's title counts the orders waiting; an order
shipped or cancelled (here or at another station) leaves it. The other filters list
orders of one status (or all) newest first, through `order.list`, kept live the same way;
point-of-sale sales send no events, so these filters also read their first page again every
`POLL_S` while the tab is in front.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.widgets import Label, Select

from client_tui.orderfmt import short_status, some_refunded
from client_tui.shop import Shop
from client_tui.widgets.badge import TabBadge
from client_tui.widgets.orders import OrdersView
from client_tui.widgets.paged_view import Fetched
from protocol.rules import OrderStatus

QUEUE = OrderStatus.PAID.value
EVERY = "every"
POLL_S = 5.0  # how often a filter other than the queue reads its first page again
FILTERS: tuple[tuple[str, str], ...] = (
    ("To ship (paid)", QUEUE),
    ("Shipped", OrderStatus.SHIPPED),
    ("Delivered", OrderStatus.DELIVERED),
    ("Refunded", OrderStatus.REFUNDED),
    ("Cancelled", OrderStatus.CANCELLED),
    ("Point of sale", OrderStatus.COMPLETED),
    ("All orders", EVERY),
)


class FulfilmentView(OrdersView):
    POLL_S = POLL_S
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("v", "choose_filter", "Filter"),
    ]

    def __init__(self, shop: Shop, *, id: str | None = None) -> None:
        super().__init__(shop, id=id)
        self.status = QUEUE
        self.waiting: set[int] = set()  # paid online orders known: the queue's count
        self.more_waiting = False  # the queue has pages not yet loaded
        self.new: set[int] = set()  # paid while this view was up

    def compose(self) -> ComposeResult:
        with Horizontal(id="fulfilment-bar"):
            yield Label("Show", id="filter-label")
            yield Select(FILTERS, value=QUEUE, allow_blank=False, compact=True, id="status")
            yield Label("", id="waiting")
        yield from super().compose()

    def on_mount(self) -> None:
        self._say_when_empty()

    def _say_when_empty(self) -> None:
        """What the empty list says: of the status shown, and how to show another."""
        if self.status == EVERY:
            words = "No orders yet."
        elif self.status == QUEUE:
            words = "Nothing to ship. v shows the orders of another status."
        else:
            name = next(label for label, value in FILTERS if value == self.status)
            words = f"No orders: {name.lower()}. v shows another status."
        self.query_one("#orders-empty", Label).update(words)

    # -- listing

    async def fetch(self, cursor: str | None) -> Fetched:
        if cursor is None or self.status == QUEUE:  # a new listing also (re)subscribes
            queue, more = await self.shop.subscribe_orders(cursor)
            self._count_queue(queue, more, first=cursor is None)
            if self.status == QUEUE:
                return queue, more
        return await self.shop.orders(cursor, None if self.status == EVERY else self.status)

    def polls(self) -> bool:
        return self.status != QUEUE  # the queue holds online orders alone, kept live by events

    async def first_page(self) -> list[dict[str, Any]]:
        """Read, not subscribed again (which would count the queue afresh)."""
        return (await self.shop.orders(None, None if self.status == EVERY else self.status))[0]

    def polled(self, items: list[dict[str, Any]]) -> None:
        """Point-of-sale sales send no events (PROTOCOL.md 13): the newest page read again
        adds the sales rung up since, drops those that left this status (refunded at a
        till) and shows those changed. A page all new may have a gap after it, so then
        the listing starts again."""
        fresh = [order for order in items if order["id"] not in self.orders]
        if len(fresh) == len(items) and (items or self.orders):
            self.action_reload()
            return
        changed = [order for order in items if self.orders.get(order["id"], order) != order]
        listed = {order["id"] for order in items}
        gone = [oid for oid in self.orders if oid >= min(listed) and oid not in listed]
        for order_id in gone:
            del self.orders[order_id]
        self.orders.update((order["id"], order) for order in fresh)
        if fresh or gone:
            self._draw()
            self.table.page_added()
        for order in changed:
            self._order_changed(order)

    def sort_key(self, order: dict[str, Any]) -> int:
        """The queue oldest first (first in, first shipped); the others newest first."""
        return int(order["id"]) if self.status == QUEUE else -int(order["id"])

    def matches(self, order: dict[str, Any]) -> bool:
        return self.status == EVERY or order.get("status") == self.status

    @on(Select.Changed, "#status")
    def _filter_changed(self, event: Select.Changed) -> None:
        if event.select.has_focus:  # chosen there (not set at mount): keys back to the orders
            self.table.focus()  # (↓ moved in the Show list and opened it again)
        if isinstance(event.value, str) and event.value != self.status:
            self.status = event.value
            self._say_when_empty()
            self.orders.clear()
            self.table.clear()
            self.action_reload()

    def action_choose_filter(self) -> None:
        select = self.query_one("#status", Select)
        select.focus()
        select.expanded = True

    # -- live

    def _order_changed(self, order: dict[str, Any]) -> None:
        self._count(order)
        if self.matches(order):
            super()._order_changed(order)
        elif self.orders.pop(order["id"], None) is not None:
            self._draw()

    def _count(self, order: dict[str, Any]) -> None:
        order_id = order["id"]
        if order.get("status") == OrderStatus.PAID and order.get("channel") == "online":
            if order_id not in self.waiting and not some_refunded(order):  # just paid
                self.new.add(order_id)
            self.waiting.add(order_id)
        else:
            self.waiting.discard(order_id)
            self.new.discard(order_id)
        self._show_count()

    def _count_queue(self, page: list[dict[str, Any]], more: str | None, first: bool) -> None:
        """A page of the queue read: count it (the first page starts the count again)."""
        if first:
            self.waiting.clear()
        self.waiting.update(order["id"] for order in page)
        self.new &= self.waiting
        self.more_waiting = more is not None
        self._show_count()

    def _show_count(self) -> None:
        count = f"{len(self.waiting)}{'+' if self.more_waiting else ''}"
        new = f", {len(self.new)} new" if self.new else ""
        # the queue's count whatever the filter shows: "waiting", so "Shipped" reads right
        waiting = f"{count} waiting to ship{new}" if self.waiting else "none waiting to ship"
        self.query_one("#waiting", Label).update(waiting)
        self.post_message(TabBadge(self, f"{count}{new}" if self.waiting else ""))

    def action_open(self) -> None:
        """Opening an order is seeing it: it is new no more."""
        if (order := self.current) is not None and order["id"] in self.new:
            self.new.discard(order["id"])
            self._set_status(order, flash=False)
            self._show_count()
        super().action_open()

    def status_cell(self, order: dict[str, Any], flash: bool) -> Text:
        text = short_status(order)
        if order["id"] in self.new:
            return Text(f"{text} · new", style="bold reverse" if flash else "bold")
        return Text(text, style="reverse" if flash else "")
