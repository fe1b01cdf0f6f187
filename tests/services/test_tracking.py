"""order.ship's tracking reference: checked, kept with the order, shown to its customer."""

from __future__ import annotations

from typing import Any

import pytest
from twisted.internet.task import Clock

from db.models import Order
from protocol.errors import ErrorCode
from server.events import EventHub
from server.services.orders import OrderService
from tests.services.inline_db import InlineDatabase, Shop, ask, error, result
from tests.services.shopping import PAY_S, checkout, fill_cart, order_service, watch


@pytest.fixture
def orders(dbx: InlineDatabase, hub: EventHub, clock: Clock) -> OrderService:
    return order_service(dbx, hub, clock)


@pytest.fixture
def paid(mini_shop: Shop, orders: OrderService, dbx: InlineDatabase, clock: Clock) -> int:
    fill_cart(dbx, mini_shop.ani, (mini_shop.kopi, 1))
    answer = checkout(orders, mini_shop.ani)
    clock.advance(PAY_S)
    order: dict[str, Any] = result(answer)
    assert order["tracking"] is None
    return int(order["id"])


def test_a_shipment_keeps_its_tracking_reference_for_the_customer(
    mini_shop: Shop, orders: OrderService, hub: EventHub, paid: int
) -> None:
    ani = watch(hub, mini_shop.ani)

    shipped = result(
        ask(orders.ship, mini_shop.clerk, "order.ship", order_id=paid, tracking="JNE 0123-45")
    )
    delivered = result(ask(orders.deliver, mini_shop.clerk, "order.deliver", order_id=paid))
    seen = result(ask(orders.get, mini_shop.ani, "order.get", order_id=paid))

    assert shipped["tracking"] == delivered["tracking"] == seen["tracking"] == "JNE 0123-45"
    assert [o["tracking"] for o in ani.of("order")] == ["JNE 0123-45"] * 2
    assert Order.get_by_id(paid).tracking_ref == "JNE 0123-45"


def test_a_shipment_without_one_has_none(mini_shop: Shop, orders: OrderService, paid: int) -> None:
    shipped = result(ask(orders.ship, mini_shop.clerk, "order.ship", order_id=paid))
    assert shipped["status"] == "shipped" and shipped["tracking"] is None


@pytest.mark.parametrize(
    ("tracking", "rule"),
    [
        ("", "must be 1 to 100 characters"),
        ("x" * 101, "must be 1 to 100 characters"),
        ("JNE\n123", "must be printable ASCII"),
        ("résumé", "must be printable ASCII"),
    ],
)
def test_a_tracking_reference_that_breaks_its_rule_is_refused_and_nothing_changes(
    mini_shop: Shop, orders: OrderService, paid: int, tracking: str, rule: str
) -> None:
    refused = error(
        ask(orders.ship, mini_shop.clerk, "order.ship", order_id=paid, tracking=tracking)
    )
    assert refused.code == ErrorCode.BAD_REQUEST
    assert refused.details == {"field": "tracking", "rule": rule}
    stored = Order.get_by_id(paid)
    assert (stored.status, stored.tracking_ref) == ("paid", None)
