"""After checkout: cancel, ship and deliver follow the status table; who sees which order;
pages of orders and their cursors."""

from __future__ import annotations

from typing import Any

import pytest
from twisted.internet.task import Clock

from db.models import Order
from protocol.errors import ErrorCode
from server.dispatch import Identity
from server.events import EventHub
from server.payments import PAYMENT_TIMEOUT_S
from server.services.orders import OrderService
from tests.services.inline_db import InlineDatabase, Shop, ask, error, result
from tests.services.shopping import (
    PAY_S,
    BrokenGateway,
    Gateway,
    SilentGateway,
    checkout,
    fill_cart,
    order_service,
    status,
    stock,
    watch,
)


@pytest.fixture
def orders(dbx: InlineDatabase, hub: EventHub, clock: Clock) -> OrderService:
    return order_service(dbx, hub, clock)


def bought(
    orders: OrderService, dbx: InlineDatabase, clock: Clock, who: Identity, product_id: int
) -> dict[str, Any]:
    """A paid order of `who`'s for one unit of `product_id`."""
    fill_cart(dbx, who, (product_id, 1))
    answer = checkout(orders, who, key=f"{who.username}-{Order.select().count()}")
    clock.advance(PAY_S)
    return result(answer)


def test_a_paid_order_is_shipped_then_delivered_by_staff(
    mini_shop: Shop, dbx: InlineDatabase, hub: EventHub, clock: Clock, orders: OrderService
) -> None:
    order = bought(orders, dbx, clock, mini_shop.ani, mini_shop.kopi)
    ani = watch(hub, mini_shop.ani)

    early = error(ask(orders.deliver, mini_shop.clerk, "order.deliver", order_id=order["id"]))
    assert early.code == ErrorCode.INVALID_STATE, "deliver before ship: refused"
    assert early.details == {"status": "paid", "allowed": ["cancelled", "refunded", "shipped"]}

    shipped = result(ask(orders.ship, mini_shop.clerk, "order.ship", order_id=order["id"]))
    delivered = result(ask(orders.deliver, mini_shop.clerk, "order.deliver", order_id=order["id"]))

    assert (shipped["status"], delivered["status"]) == ("shipped", "delivered")
    assert status(order["id"]) == ("delivered", "captured"), "advance_order: stored"
    assert [o["status"] for o in ani.of("order")] == ["shipped", "delivered"], "pushed to ani"


def test_a_pending_order_is_not_shipped_and_the_refusal_names_its_channels_way_on(
    mini_shop: Shop, dbx: InlineDatabase, clock: Clock, orders: OrderService
) -> None:
    fill_cart(dbx, mini_shop.ani, (mini_shop.kopi, 1))
    paying = checkout(orders, mini_shop.ani, key="ani-pending")
    (pending,) = [o.id for o in Order.select().where(Order.status == "pending")]

    early = error(ask(orders.ship, mini_shop.clerk, "order.ship", order_id=pending))

    assert early.code == ErrorCode.INVALID_STATE
    assert early.details == {"status": "pending", "allowed": ["cancelled", "paid"]}, "online"
    clock.advance(PAY_S)
    assert result(paying)["status"] == "paid"


def test_only_staff_ship(mini_shop: Shop, dbx: InlineDatabase, clock: Clock, orders: OrderService):
    order = bought(orders, dbx, clock, mini_shop.ani, mini_shop.kopi)
    refused = error(ask(orders.ship, mini_shop.ani, "order.ship", order_id=order["id"]))
    assert refused.code == ErrorCode.FORBIDDEN
    assert status(order["id"]) == ("paid", "captured")


def test_a_customer_cancels_a_paid_order_and_the_stock_comes_back(
    mini_shop: Shop, dbx: InlineDatabase, hub: EventHub, clock: Clock, orders: OrderService
) -> None:
    order = bought(orders, dbx, clock, mini_shop.ani, mini_shop.kopi)
    ani = watch(hub, mini_shop.ani, mini_shop.kopi)

    cancelling = ask(orders.cancel, mini_shop.ani, "order.cancel", order_id=order["id"])

    assert not cancelling.called, "refund: the answer waits for the gateway's"
    assert status(order["id"]) == ("cancelled", "refunded"), "cancel_order: stored before"
    clock.advance(PAY_S)
    cancelled = result(cancelling)
    assert cancelled["status"] == "cancelled" and cancelled["cancel_reason"] == "customer"
    assert cancelled["payment"]["status"] == "refunded"
    assert stock(mini_shop.kopi) == 5, "cancel_order: stock given back"
    assert [s["stock"] for s in ani.of("stock")] == [5]
    assert [o["status"] for o in ani.of("order")] == ["cancelled"]

    again = error(ask(orders.cancel, mini_shop.ani, "order.cancel", order_id=order["id"]))
    assert again.code == ErrorCode.INVALID_STATE, "a cancelled order stays cancelled"
    assert stock(mini_shop.kopi) == 5, "and gives nothing back twice"


@pytest.mark.parametrize("gateway_kind", [BrokenGateway, SilentGateway])
def test_a_cancel_whose_refund_the_provider_fails_is_answered_and_stays_cancelled(
    mini_shop: Shop, dbx: InlineDatabase, hub: EventHub, clock: Clock, gateway_kind: type[Gateway]
) -> None:
    """The provider's refund is waited for as long as a charge, like clerk.refund's: a
    gateway that fails or never answers gets the customer an answer, not a hung request."""
    gateway = gateway_kind(clock)
    orders = order_service(dbx, hub, clock, gateway)
    order = bought(orders, dbx, clock, mini_shop.ani, mini_shop.kopi)

    cancelling = ask(orders.cancel, mini_shop.ani, "order.cancel", order_id=order["id"])
    clock.advance(PAYMENT_TIMEOUT_S)

    failed = error(cancelling)
    assert failed.code == ErrorCode.UNAVAILABLE
    assert failed.details == {"reason": "provider", "order_id": order["id"]}
    assert status(order["id"]) == ("cancelled", "refunded"), "the cancel stays committed"
    assert stock(mini_shop.kopi) == 5 and len(gateway.refunds) == 1


def test_staff_cancel_any_order_but_not_a_shipped_one(
    mini_shop: Shop, dbx: InlineDatabase, clock: Clock, orders: OrderService
) -> None:
    first = bought(orders, dbx, clock, mini_shop.ani, mini_shop.kopi)
    second = bought(orders, dbx, clock, mini_shop.ani, mini_shop.teh)
    result(ask(orders.ship, mini_shop.clerk, "order.ship", order_id=second["id"]))

    cancelling = ask(orders.cancel, mini_shop.clerk, "order.cancel", order_id=first["id"])
    clock.advance(PAY_S)
    cancelled = result(cancelling)
    shipped = error(ask(orders.cancel, mini_shop.clerk, "order.cancel", order_id=second["id"]))

    assert cancelled["cancel_reason"] == "staff"
    assert shipped.code == ErrorCode.INVALID_STATE
    assert shipped.details["status"] == "shipped"
    assert stock(mini_shop.teh) == 2, "a refused cancel gives nothing back"


def test_an_order_being_paid_for_cannot_be_cancelled(
    mini_shop: Shop, dbx: InlineDatabase, clock: Clock, orders: OrderService
) -> None:
    fill_cart(dbx, mini_shop.ani, (mini_shop.kopi, 1))
    paying = checkout(orders, mini_shop.ani)
    (order,) = Order.select()

    refused = error(ask(orders.cancel, mini_shop.ani, "order.cancel", order_id=order.id))

    assert refused.code == ErrorCode.INVALID_STATE
    assert refused.details == {"status": "pending", "reason": "payment_in_progress"}
    clock.advance(PAY_S)
    assert result(paying)["status"] == "paid", "the checkout decides"


def test_another_customers_order_does_not_exist(
    mini_shop: Shop, dbx: InlineDatabase, clock: Clock, orders: OrderService
) -> None:
    order = bought(orders, dbx, clock, mini_shop.ani, mini_shop.kopi)

    for op, handler in (("order.get", orders.get), ("order.cancel", orders.cancel)):
        hidden = error(ask(handler, mini_shop.budi, op, order_id=order["id"]))
        assert hidden.code == ErrorCode.NOT_FOUND, op
        assert hidden.details == {"kind": "order", "id": order["id"]}, op
    assert result(ask(orders.get, mini_shop.clerk, "order.get", order_id=order["id"])) == order
    assert result(ask(orders.get, mini_shop.ani, "order.get", order_id=order["id"])) == order
    missing = error(ask(orders.ship, mini_shop.clerk, "order.ship", order_id=order["id"] + 1))
    assert missing.code == ErrorCode.NOT_FOUND


def pages(orders: OrderService, who: Identity, **args: Any) -> list[list[int]]:
    """Every page of `order.list` for `who`, as order ids."""
    found, cursor = [], None
    while True:
        more: dict[str, Any] = {"cursor": cursor} if cursor else {}
        page = result(ask(orders.list, who, "order.list", **args, **more))
        found.append([order["id"] for order in page["items"]])
        cursor = page["next_cursor"]
        if cursor is None:
            return found


def test_orders_are_listed_newest_first_in_pages_each_customer_their_own(
    mini_shop: Shop, dbx: InlineDatabase, clock: Clock, orders: OrderService
) -> None:
    ani = [bought(orders, dbx, clock, mini_shop.ani, mini_shop.teh)["id"]]
    ani += [bought(orders, dbx, clock, mini_shop.ani, mini_shop.kopi)["id"] for _ in range(2)]
    budi = bought(orders, dbx, clock, mini_shop.budi, mini_shop.kopi)["id"]
    result(ask(orders.ship, mini_shop.clerk, "order.ship", order_id=ani[0]))

    assert pages(orders, mini_shop.ani, limit=2) == [[ani[2], ani[1]], [ani[0]]]
    assert pages(orders, mini_shop.budi, limit=2) == [[budi]]
    assert pages(orders, mini_shop.clerk, limit=3) == [[budi, ani[2], ani[1]], [ani[0]]]
    assert pages(orders, mini_shop.clerk, limit=2, status="shipped") == [[ani[0]]]


def test_a_cursor_serves_only_its_own_listing(
    mini_shop: Shop, dbx: InlineDatabase, clock: Clock, orders: OrderService
) -> None:
    for _ in range(2):
        bought(orders, dbx, clock, mini_shop.ani, mini_shop.teh)
    first = result(ask(orders.list, mini_shop.ani, "order.list", limit=1))
    cursor = first["next_cursor"]
    assert cursor

    for who, args in (
        (mini_shop.budi, {}),
        (mini_shop.ani, {"status": "paid"}),
        (mini_shop.ani, {"cursor": cursor[:-1] + ("x" if cursor[-1] != "x" else "y")}),
        (mini_shop.ani, {"cursor": "not a cursor"}),
    ):
        refused = error(ask(orders.list, who, "order.list", **{"cursor": cursor, **args}))
        assert refused.code == ErrorCode.BAD_REQUEST, (who.username, args)
        assert refused.details["field"] == "cursor", (who.username, args)
    again = result(ask(orders.list, mini_shop.ani, "order.list", limit=1, cursor=cursor))
    assert again["items"] and again["next_cursor"] is None, "the same listing: next page"
