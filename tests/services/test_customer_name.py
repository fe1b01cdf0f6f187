"""Every order map names its owner (`customer_name`, PROTOCOL.md 11.5) so staff can say whose
order it is: checkout's answer and pushes, order.get, order.list and the staff feed's page;
nil for a point-of-sale sale, which has no owner."""

from __future__ import annotations

from typing import Any

from twisted.internet.task import Clock

from server.events import EventHub
from server.services.staff_feed import StaffFeedService
from tests.services.inline_db import InlineDatabase, Recorder, Shop, ask, ask_from, result
from tests.services.shopping import CURSORS, PAY_S, checkout, fill_cart, order_service, watch
from tests.services.till import CASH, Till, line


def names(orders: list[dict[str, Any]]) -> list[tuple[int, str | None]]:
    return [(o["id"], o["customer_name"]) for o in orders]


def test_an_online_order_carries_its_customers_username_wherever_it_is_read(
    mini_shop: Shop, dbx: InlineDatabase, hub: EventHub, clock: Clock
) -> None:
    orders = order_service(dbx, hub, clock)
    staff_feed = StaffFeedService(dbx, hub, clock, CURSORS)
    fill_cart(dbx, mini_shop.budi, (mini_shop.teh, 1))
    budi = watch(hub, mini_shop.budi)

    answer = checkout(orders, mini_shop.budi)
    clock.advance(PAY_S)
    paid = result(answer)
    order_id = paid["id"]
    got = result(ask(orders.get, mini_shop.clerk, "order.get", order_id=order_id))
    staff_list = result(ask(orders.list, mini_shop.clerk, "order.list"))
    own_list = result(ask(orders.list, mini_shop.budi, "order.list"))
    page = result(
        ask_from(Recorder(identity=mini_shop.clerk), staff_feed.subscribe, "order.subscribe")
    )

    assert paid["customer_name"] == "budi", "checkout's answer"
    assert names(budi.of("order")) == [(order_id, "budi")] * 2, "its pushes, pending and paid"
    assert got["customer_name"] == "budi", "order.get"
    assert names(staff_list["items"]) == names(own_list["items"]) == [(order_id, "budi")]
    assert names(page["items"]) == [(order_id, "budi")], "the staff feed's page"


def test_a_point_of_sale_order_has_no_customer_name(
    mini_shop: Shop, dbx: InlineDatabase, hub: EventHub, clock: Clock
) -> None:
    till = Till(dbx, hub, clock)
    result(till.open(mini_shop.clerk))

    sold = result(till.sell(mini_shop.clerk, line(mini_shop.kopi), payment=CASH))
    got = result(ask(till.orders.get, mini_shop.clerk, "order.get", order_id=sold["id"]))
    listed = result(ask(till.orders.list, mini_shop.clerk, "order.list"))

    assert sold["customer_name"] is None and got["customer_name"] is None
    assert names(listed["items"]) == [(sold["id"], None)]
