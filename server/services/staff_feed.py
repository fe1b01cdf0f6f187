"""order.subscribe / order.unsubscribe: the orders waiting for staff now, then every online
order's change (PROTOCOL.md sections 12.5 and 13)."""

from __future__ import annotations

from typing import Any

from server.clock import Clock
from server.cursors import Cursors
from server.dbexec import Executor
from server.dispatch import Call
from server.events import EventHub
from server.services.order_queries import id_page, waiting_orders

SCOPE = "order.subscribe"  # one listing for every staff member: no user in it


class StaffFeedService:
    def __init__(self, dbx: Executor, hub: EventHub, clock: Clock, cursors: Cursors) -> None:
        self.dbx = dbx
        self.cursors = cursors
        self.hub = hub
        self.clock = clock

    async def subscribe(self, call: Call) -> dict[str, Any]:
        """A page of the paid orders, oldest first; the connection's order pushes wait from
        before the read until just after the answer, which is sent first."""
        args, peer = call.args, call.peer
        after = self.cursors.decode(args["cursor"], SCOPE, (int,))[0] if "cursor" in args else 0
        limit = args["limit"]
        self.hub.hold_orders(peer)
        try:
            found = await self.dbx.read(lambda db: waiting_orders(db, after, limit + 1))
        except BaseException:
            self.hub.release_orders(peer, answered=False)
            raise
        # After this turn, in which the answer is written: the pushes that waited follow it.
        self.clock.callLater(0, self.hub.release_orders, peer, True)
        return id_page(found, limit, SCOPE, self.cursors)

    def unsubscribe(self, call: Call) -> dict[str, Any]:
        self.hub.unsubscribe_orders(call.peer)
        return {}
