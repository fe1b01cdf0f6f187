"""Orders: the ops on them, and what the rest of the server uses of orders (docs/architecture.md).

Checkout, the flow around the payment, is `server.services.checkout`; every change to an
order is a write job of `order_jobs`, every read one of `order_queries`, and
`order_states` says which status may follow which.
"""

from __future__ import annotations

from typing import Any

from protocol.rules import STAFF_ROLES, OrderStatus
from server.clock import Clock
from server.cursors import Cursors
from server.dbexec import Executor
from server.dispatch import Call
from server.events import EventHub
from server.limits import Limits
from server.payments import PaymentProvider, pay_back
from server.services.checkout import Checkouts
from server.services.order_changes import advance_order, cancel_order
from server.services.order_jobs import publish
from server.services.order_queries import Order, id_page, order_page, read_order, visible


class OrderService:
    def __init__(
        self,
        dbx: Executor,
        hub: EventHub,
        provider: PaymentProvider,
        currency: str,
        clock: Clock,
        cursors: Cursors,
        declines_per_hour: float = Limits.declines_per_account_per_hour,
    ) -> None:
        self.dbx = dbx
        self.cursors = cursors
        self.hub = hub
        self.provider = provider
        self.clock = clock
        self.checkouts = Checkouts(dbx, hub, provider, currency, clock, declines_per_hour)
        self.checkout = self.checkouts.checkout
        self.settle_pending = self.checkouts.settle_pending

    @property
    def busy(self) -> bool:
        """A checkout is running (maybe for a client already gone)."""
        return self.checkouts.busy

    async def get(self, call: Call) -> Order:
        order_id, me = call.args["order_id"], call.identity
        order = await self.dbx.read(lambda db: read_order(db, order_id))
        return visible(order, order_id, me.user_id, me.role)

    async def list(self, call: Call) -> dict[str, Any]:
        """A page of orders, newest first: a customer's own, or everyone's for staff."""
        args, me = call.args, call.identity
        customer = None if me.role in STAFF_ROLES else me.user_id
        status, limit = args.get("status"), args["limit"]
        scope = f"order.list|{customer}|{status}"
        before = self.cursors.decode(args["cursor"], scope, (int,))[0] if "cursor" in args else None
        found = await self.dbx.read(lambda db: order_page(db, customer, status, before, limit + 1))
        return id_page(found, limit, scope, self.cursors)

    async def cancel(self, call: Call) -> Order:
        """Cancel the order, give its stock back, then refund what was paid."""
        me = call.identity
        order, changes = await self.dbx.write(
            cancel_order, call.args["order_id"], me.user_id, me.role
        )
        publish(self.hub, order, changes)
        payment = order["payment"]
        if payment and payment["reference"]:
            await pay_back(
                self.provider,
                self.clock,
                payment["reference"],
                _unrefunded(order),
                f"order {order['id']} is cancelled",
                {"order_id": order["id"]},
            )
        return order

    async def ship(self, call: Call) -> Order:
        return await self._advance(call, OrderStatus.SHIPPED, call.args.get("tracking"))

    async def deliver(self, call: Call) -> Order:
        return await self._advance(call, OrderStatus.DELIVERED)

    async def _advance(self, call: Call, target: OrderStatus, tracking: str | None = None) -> Order:
        order_id, user_id = call.args["order_id"], call.identity.user_id
        order = await self.dbx.write(advance_order, order_id, target, user_id, tracking)
        self.hub.publish_order(order)
        return order


def _unrefunded(order: Order) -> int:
    """What the order's lines not yet refunded cost."""
    return sum((line["qty"] - line["refunded_qty"]) * line["unit_price"] for line in order["lines"])
