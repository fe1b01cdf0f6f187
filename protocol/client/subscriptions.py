"""What an `AsyncClient` has subscribed to, taken again after it reconnects: stock (every
product, or some by id) and, for staff, orders. The fresh state reaches the application as
local pushes: `stock.snapshot` and `order.snapshot` (PROTOCOL.md 13)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from protocol.client.link import ORDERS_SNAPSHOT_EVENT, SNAPSHOT_EVENT, Push
from protocol.ops import Op
from protocol.rules import MAX_SUBSCRIBE_IDS

ORDERS_PAGE = 100  # the most orders one order.subscribe answers with

Call = Callable[..., Awaitable[dict[str, Any]]]


class Subscriptions:
    def __init__(self) -> None:
        self.ids: set[int] = set()
        self.all = False
        self.orders = False

    def took_stock(self, product_ids: list[int] | None) -> None:
        """Subscribed to `product_ids` (None: every product)."""
        if product_ids is None:
            self.all = True
        else:
            self.ids.update(product_ids)

    def dropped_stock(self, product_ids: list[int] | None) -> None:
        """Unsubscribed from `product_ids` (None: from everything)."""
        if product_ids is None:
            self.all = False
            self.ids.clear()
        else:
            self.ids.difference_update(product_ids)

    def forget(self) -> None:
        """A new identity, or none: nothing to take again."""
        self.ids.clear()
        self.all = self.orders = False

    async def restore(self, call: Call, deliver: Callable[[Push], None]) -> None:
        """Subscribe again on a new link with `call`, handing each fresh state to `deliver`."""
        snapshot: list[dict[str, Any]] = []
        if self.all:
            snapshot = (await call(Op.STOCK_SUBSCRIBE, all=True))["snapshot"]
        elif self.ids:
            ids = sorted(self.ids)
            for start in range(0, len(ids), MAX_SUBSCRIBE_IDS):
                chunk = ids[start : start + MAX_SUBSCRIBE_IDS]
                snapshot.extend((await call(Op.STOCK_SUBSCRIBE, product_ids=chunk))["snapshot"])
        if self.all or self.ids:
            deliver(Push(SNAPSHOT_EVENT, 0, {"snapshot": snapshot}))
        if self.orders:
            page = await call(Op.ORDER_SUBSCRIBE, limit=ORDERS_PAGE)
            deliver(Push(ORDERS_SNAPSHOT_EVENT, 0, page))
