"""Orders another server changed (heard on PostgreSQL), pushed to their owners' connections
and to the staff subscribers here, as this server's own order changes are."""

from __future__ import annotations

from typing import Any

from twisted.logger import Logger

from protocol.rules import OrderStatus
from server.dbexec import Executor
from server.events import EventHub
from server.services.order_queries import read_order

log = Logger()


class OrderFeed:
    def __init__(self, dbx: Executor, hub: EventHub) -> None:
        self.dbx = dbx
        self.hub = hub

    def changed(self, order_id: int, customer_id: int, status: str) -> None:
        """Read the order and push it, if its owner has a connection here, or staff here
        watch orders and the change is one they hear of (a paid checkout, not a pending one)."""
        if customer_id in self.hub.users or (
            self.hub.staff_watching and status != OrderStatus.PENDING
        ):
            d = self.dbx.read(lambda db: read_order(db, order_id))
            d.addCallback(self._publish).addErrback(
                lambda failure: log.failure("cannot push order {id}", failure, id=order_id)
            )

    def _publish(self, order: dict[str, Any] | None) -> None:
        if order is not None:  # None: deleted meanwhile, so nothing to tell
            self.hub.publish_order(order)
