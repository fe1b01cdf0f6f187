"""Fan-out of committed changes to the connections that want them.

Runs on the reactor thread only, and only for changes already committed. A stock change is
encoded once (`PushTemplate`) and handed to each subscriber, which writes it or, while its
transport is full, keeps it as the newest value for that product. Versions only move
forward: a value older than one already published for a product is dropped.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple, Protocol

from protocol.envelope import PushTemplate
from protocol.ops import EventName


class StockChange(NamedTuple):
    """A product's stock after a committed change (a tuple, so a write job can return it)."""

    product_id: int
    stock: int
    version: int


class Subscriber(Protocol):
    def send_stock(self, product_id: int, template: PushTemplate) -> None: ...

    def send_event(self, event: str, data: dict[str, Any]) -> None: ...


class EventHub:
    def __init__(self) -> None:
        self.by_product: dict[int, set[Subscriber]] = defaultdict(set)
        self.everything: set[Subscriber] = set()
        self.subscriptions: dict[Subscriber, set[int]] = defaultdict(set)
        self.users: dict[int, set[Subscriber]] = defaultdict(set)
        self.latest: dict[int, StockChange] = {}
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
        self.everything.discard(conn)
        for product_id in self.subscriptions.pop(conn, ()):
            self._drop_from_product(conn, product_id)

    def _drop_from_product(self, conn: Subscriber, product_id: int) -> None:
        peers = self.by_product.get(product_id)
        if peers is not None:
            peers.discard(conn)
            if not peers:
                del self.by_product[product_id]

    def publish_stock(self, changes: Iterable[StockChange]) -> None:
        for change in changes:
            known = self.latest.get(change.product_id)
            if known is not None and change.version <= known.version:
                continue
            self.latest[change.product_id] = change
            for listener in self.listeners:
                listener(change)
            peers = self.by_product.get(change.product_id)
            if not peers and not self.everything:
                continue
            template = PushTemplate(
                EventName.STOCK,
                {"product_id": change.product_id, "stock": change.stock, "version": change.version},
            )
            for conn in (peers or set()) | self.everything:
                conn.send_stock(change.product_id, template)

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
