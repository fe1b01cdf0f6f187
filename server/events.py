"""Fan-out of committed changes to the connections that want them.

Runs on the reactor thread only, and only for changes already committed. Stock changes are
coalesced: a publish records the newest value per product and asks for one flush soon (the
next reactor turn), which encodes each changed product once (`PushTemplate`) and hands it to
each subscriber, which writes it or, while its transport is full, keeps it as the newest
value for that product. So a burst of changes to one product (a flash sale: a hundred sales
in a turn, to thousands of watchers) costs one push per watcher per turn, not one per
change. Versions only move forward: a value older than one already published for a product
is dropped.

An order goes to its owner's connections, and (encoded once, like stock) to the staff
connections that called `order.subscribe`, each of which keeps it as the newest state of
that order while its transport is full. A staff connection whose `order.subscribe` is
still reading its page is sent nothing: its pushes wait until the page has been answered.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

from protocol.envelope import PushTemplate
from protocol.ops import EventName
from server.clock import Clock


class StockChange(NamedTuple):
    """A product's stock after a committed change (a tuple, so a write job can return it)."""

    product_id: int
    stock: int
    version: int


class Subscriber(Protocol):
    def send_stock(self, product_id: int, template: PushTemplate) -> None: ...

    def send_event(self, event: str, data: dict[str, Any]) -> None: ...

    def send_order(self, order_id: int, template: PushTemplate) -> None: ...


@dataclass
class Joining:
    """A staff connection with `order.subscribe` calls reading their page: the order pushes
    it will be sent once the last of them is answered (the newest per order)."""

    calls: int = 0
    subscribe: bool = False  # subscribed once they are answered
    held: dict[int, PushTemplate] = field(default_factory=dict)

    def hold(self, order_id: int, template: PushTemplate) -> None:
        self.held.pop(order_id, None)  # the newest goes last
        self.held[order_id] = template


NEVER_PAID = frozenset({"payment_declined", "interrupted"})  # the cancel reasons of unpaid orders


def for_staff(order: dict[str, Any]) -> bool:
    """Whether staff subscribers hear of this change (PROTOCOL.md section 13, `order`): an
    online order that is, or was, paid; not a checkout still paying, nor one that never paid."""
    return (
        order["channel"] == "online"
        and order["status"] != "pending"
        and order["cancel_reason"] not in NEVER_PAID
    )


Soon = Callable[[Callable[[], None]], object]  # runs a call soon: `next_turn`, or at once


def next_turn(clock: Clock) -> Soon:
    """Calls put off to the next turn of the reactor, where the server sends them."""
    return lambda call: clock.callLater(0, call)


class EventHub:
    def __init__(self, soon: Soon) -> None:
        self.soon = soon
        self.dirty: dict[int, None] = {}  # products changed since the last flush, in order
        self.by_product: dict[int, set[Subscriber]] = defaultdict(set)
        self.everything: set[Subscriber] = set()
        self.subscriptions: dict[Subscriber, set[int]] = defaultdict(set)
        self.users: dict[int, set[Subscriber]] = defaultdict(set)
        self.latest: dict[int, StockChange] = {}
        self.staff: set[Subscriber] = set()
        self.joining: dict[Subscriber, Joining] = {}
        self.listeners: list[Callable[[StockChange], None]] = []

    # -- stock

    def subscribe(self, conn: Subscriber, product_ids: Iterable[int] | None) -> None:
        """Subscribe to these products, or to every product when `product_ids` is None."""
        if product_ids is None:
            self.everything.add(conn)
            return
        mine = self.subscriptions[conn]
        for product_id in product_ids:
            mine.add(product_id)
            self.by_product[product_id].add(conn)

    def unsubscribe(self, conn: Subscriber, product_ids: Iterable[int] | None) -> None:
        if product_ids is None:
            self.unsubscribe_all(conn)
            return
        mine = self.subscriptions.get(conn)
        if not mine:
            return
        for product_id in product_ids:
            if product_id in mine:
                mine.discard(product_id)
                self._drop_from_product(conn, product_id)

    def unsubscribe_all(self, conn: Subscriber) -> None:
        """Every subscription of the connection ends: stock and orders (it closed, or its
        identity changed)."""
        self.unsubscribe_orders(conn)
        self.everything.discard(conn)
        for product_id in self.subscriptions.pop(conn, ()):
            self._drop_from_product(conn, product_id)

    def _drop_from_product(self, conn: Subscriber, product_id: int) -> None:
        peers = self.by_product.get(product_id)
        if peers is not None:
            peers.discard(conn)
            if not peers:
                del self.by_product[product_id]

    def publish_stock(self, changes: Iterable[Sequence[int]]) -> None:
        """Record committed stock values, to be pushed by the next flush: `StockChange`s, or
        the lists msgpack makes of them when a write job returns them from the writer
        process. Listeners hear of each at once."""
        for change in map(StockChange._make, changes):
            known = self.latest.get(change.product_id)
            if known is not None and change.version <= known.version:
                continue
            self.latest[change.product_id] = change
            for listener in self.listeners:
                listener(change)
            first = not self.dirty
            self.dirty[change.product_id] = None
            if first:
                self.soon(self.flush_stock)

    def flush_stock(self) -> None:
        """Push the newest value of every product changed since the last flush, once to each
        of its subscribers (those subscribed now)."""
        dirty, self.dirty = self.dirty, {}
        for product_id in dirty:
            peers = self.by_product.get(product_id)
            if not peers and not self.everything:
                continue
            change = self.latest[product_id]
            template = PushTemplate(
                EventName.STOCK,
                {"product_id": product_id, "stock": change.stock, "version": change.version},
            )
            for conn in (peers or set()) | self.everything:
                conn.send_stock(product_id, template)

    # -- orders

    def watch_user(self, conn: Subscriber, user_id: int) -> None:
        self.users[user_id].add(conn)

    def unwatch_user(self, conn: Subscriber, user_id: int) -> None:
        peers = self.users.get(user_id)
        if peers is not None:
            peers.discard(conn)
            if not peers:
                del self.users[user_id]

    def publish_order(self, order: dict[str, Any]) -> None:
        owner = order.get("customer_id")
        for conn in list(self.users.get(owner, ())) if owner is not None else ():
            conn.send_event(EventName.ORDER, order)
        if self.staff_watching and for_staff(order):
            template = PushTemplate(EventName.ORDER, order)
            for conn in list(self.staff):
                conn.send_order(order["id"], template)
            for joining in self.joining.values():
                joining.hold(order["id"], template)

    # -- the staff feed of orders

    @property
    def staff_watching(self) -> bool:
        """A staff connection here wants every online order's changes."""
        return bool(self.staff or self.joining)

    def hold_orders(self, conn: Subscriber) -> None:
        """An `order.subscribe` of `conn` starts reading its page: from now until it is
        answered (`release_orders`), the order pushes for `conn` wait, so that none is sent
        before the page, and none committed after the page was read is missed."""
        joining = self.joining.get(conn)
        if joining is None:
            joining = self.joining[conn] = Joining(subscribe=conn in self.staff)
            self.staff.discard(conn)
        joining.calls += 1

    def release_orders(self, conn: Subscriber, answered: bool) -> None:
        """An `order.subscribe` of `conn` is answered (`answered`), or failed. When it was the
        last one reading, `conn` is subscribed (if one was answered, or it was subscribed
        before) and sent what waited; otherwise it is left as before."""
        joining = self.joining.get(conn)
        if joining is None:  # unsubscribed, signed out or closed meanwhile
            return
        joining.calls -= 1
        joining.subscribe = joining.subscribe or answered
        if joining.calls:
            return
        del self.joining[conn]
        if joining.subscribe:
            self.staff.add(conn)
            for order_id, template in joining.held.items():
                conn.send_order(order_id, template)

    def unsubscribe_orders(self, conn: Subscriber) -> None:
        self.staff.discard(conn)
        self.joining.pop(conn, None)
