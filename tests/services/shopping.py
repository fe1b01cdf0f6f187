"""A customer's steps for the order tests: fill the cart, check out, watch the pushes."""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import Deferred, fail

from db.models import Order, Payment, Product
from server.clock import Clock
from server.cursors import Cursors
from server.dispatch import Identity
from server.events import EventHub
from server.limits import Limits
from server.payments import FakeProvider
from server.services.cart import CartService
from server.services.orders import OrderService
from tests.services.inline_db import CURRENCY, InlineDatabase, Recorder, ask, result

PAY_S = 2.0  # how long the fake gateway takes to answer a charge
CARD = {"method": "card", "token": "tok"}
DECLINED = {"method": "card", "token": "decline"}
CURSORS = Cursors(bytes(range(32)))  # the shop's cursor key, as a server reads it at start


class Gateway(FakeProvider):
    """The fake provider, keeping every refund it was asked for."""

    def __init__(self, clock: Clock) -> None:
        super().__init__(clock, PAY_S)
        self.refunds: list[tuple[str, int]] = []

    def refund(self, reference: str, amount: int) -> Deferred[None]:
        self.refunds.append((reference, amount))
        return super().refund(reference, amount)


class BrokenGateway(Gateway):
    """Takes charges, but every refund fails."""

    def refund(self, reference: str, amount: int) -> Deferred[None]:
        self.refunds.append((reference, amount))
        return fail(ConnectionError("the gateway hung up"))


class SilentGateway(Gateway):
    """Takes charges, but never answers a refund."""

    def refund(self, reference: str, amount: int) -> Deferred[None]:
        self.refunds.append((reference, amount))
        return Deferred()


def order_service(
    dbx: InlineDatabase,
    hub: EventHub,
    clock: Clock,
    provider: FakeProvider | None = None,
    declines_per_hour: float = Limits.declines_per_account_per_hour,
) -> OrderService:
    provider = provider or FakeProvider(clock, PAY_S)
    return OrderService(dbx, hub, provider, CURRENCY, clock, CURSORS, declines_per_hour)


def fill_cart(dbx: InlineDatabase, who: Identity, *lines: tuple[int, int]) -> None:
    cart = CartService(dbx, CURRENCY)
    for product_id, qty in lines:
        result(ask(cart.add, who, "cart.add", product_id=product_id, qty=qty))


def checkout(
    orders: OrderService, who: Identity, key: str = "key-1", payment: dict[str, Any] = CARD
) -> Deferred[dict[str, Any]]:
    return ask(orders.checkout, who, "order.checkout", idempotency_key=key, payment=payment)


def watch(hub: EventHub, who: Identity, *product_ids: int) -> Recorder:
    """A connection of `who`'s that gets their order pushes and these products' stock."""
    conn = Recorder(identity=who)
    hub.watch_user(conn, who.user_id)
    hub.subscribe(conn, product_ids)
    return conn


def stock(product_id: int) -> int:
    return Product.get_by_id(product_id).stock


def status(order_id: int) -> tuple[str, str]:
    """The order's status and its payment's, as stored."""
    payment = Payment.get(Payment.order == order_id)
    return Order.get_by_id(order_id).status, payment.status
