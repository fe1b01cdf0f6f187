"""The staff feed in process: order.subscribe's page of paid orders, then which changes a
staff connection is sent, when, and how often each is encoded."""

from __future__ import annotations

from typing import Any

import peewee as pw
import pytest
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock

from db.models import Order
from protocol.envelope import PushTemplate
from protocol.errors import ErrorCode, Unavailable
from server.events import EventHub
from server.services.order_feed import OrderFeed
from server.services.orders import OrderService
from server.services.staff_feed import StaffFeedService
from tests.services.inline_db import (
    CURRENCY,
    InlineDatabase,
    Recorder,
    Shop,
    ask_from,
    error,
    result,
)
from tests.services.shopping import (
    CURSORS,
    DECLINED,
    PAY_S,
    checkout,
    fill_cart,
    order_service,
    watch,
)


@pytest.fixture
def staff_feed(dbx: InlineDatabase, hub: EventHub, clock: Clock) -> StaffFeedService:
    return StaffFeedService(dbx, hub, clock, CURSORS)


@pytest.fixture
def orders(dbx: InlineDatabase, hub: EventHub, clock: Clock) -> OrderService:
    return order_service(dbx, hub, clock)


def subscribe(feed: StaffFeedService, conn: Recorder, **args: Any) -> Deferred[Any]:
    return ask_from(conn, feed.subscribe, "order.subscribe", **args)


def an_order(shop: Shop, status: str, channel: str = "online") -> int:
    customer = shop.ani.user_id if channel == "online" else None
    return Order.create(
        customer=customer, status=status, channel=channel, total=1, currency=CURRENCY
    ).id


def listed(page: dict[str, Any]) -> list[tuple[int, str]]:
    return [(o["id"], o["status"]) for o in page["items"]]


def test_the_page_is_the_paid_online_orders_oldest_first_then_the_next_by_cursor(
    mini_shop: Shop, staff_feed: StaffFeedService
) -> None:
    paid = [an_order(mini_shop, "paid")]
    an_order(mini_shop, "pending")
    paid.append(an_order(mini_shop, "paid"))
    an_order(mini_shop, "shipped")
    an_order(mini_shop, "completed", channel="pos")
    paid.append(an_order(mini_shop, "paid"))
    clerk = Recorder(identity=mini_shop.clerk)

    first = result(subscribe(staff_feed, clerk, limit=2))
    rest = result(subscribe(staff_feed, clerk, limit=2, cursor=first["next_cursor"]))

    assert listed(first) == [(paid[0], "paid"), (paid[1], "paid")]
    assert listed(rest) == [(paid[2], "paid")] and rest["next_cursor"] is None
    assert first["items"][0]["lines"] == [] and first["items"][0]["customer_id"] is not None


def test_a_cursor_of_another_listing_is_refused_before_anything_is_held_or_read(
    mini_shop: Shop, staff_feed: StaffFeedService, dbx: InlineDatabase, hub: EventHub
) -> None:
    clerk = Recorder(identity=mini_shop.clerk)
    foreign = CURSORS.encode("order.list|None|paid", 5)

    refused = error(subscribe(staff_feed, clerk, cursor=foreign))

    assert refused.code == ErrorCode.BAD_REQUEST and refused.details["field"] == "cursor"
    assert dbx.reads == 0 and not hub.staff_watching


def test_a_customer_may_not_subscribe(mini_shop: Shop, staff_feed: StaffFeedService) -> None:
    refused = error(subscribe(staff_feed, Recorder(identity=mini_shop.ani)))
    assert refused.code == ErrorCode.FORBIDDEN
    assert refused.details == {"role": "customer", "allowed": ["admin", "clerk"]}


def test_staff_hear_a_paid_checkout_and_what_follows_not_one_paying_or_declined(
    mini_shop: Shop,
    staff_feed: StaffFeedService,
    orders: OrderService,
    dbx: InlineDatabase,
    hub: EventHub,
    clock: Clock,
) -> None:
    clerk = Recorder(identity=mini_shop.clerk)
    result(subscribe(staff_feed, clerk))
    clock.advance(0)
    ani = watch(hub, mini_shop.ani)
    fill_cart(dbx, mini_shop.ani, (mini_shop.kopi, 1))
    fill_cart(dbx, mini_shop.budi, (mini_shop.teh, 1))

    paying = checkout(orders, mini_shop.ani)
    declined = checkout(orders, mini_shop.budi, payment=DECLINED)
    assert clerk.of("order") == [], "pending: nothing for staff yet"
    clock.advance(PAY_S)
    order = result(paying)
    assert error(declined).code == ErrorCode.PAYMENT_DECLINED
    result(ask_from(clerk, orders.ship, "order.ship", order_id=order["id"]))

    assert [(o["id"], o["status"]) for o in clerk.of("order")] == [
        (order["id"], "paid"),
        (order["id"], "shipped"),
    ], "the declined order never reaches staff"
    assert [o["status"] for o in ani.of("order")] == ["pending", "paid", "shipped"]


class SlowReads(InlineDatabase):
    """Reads that answer when the test says so (`finish`), as a busy reader thread would."""

    def __init__(self, db: pw.Database) -> None:
        super().__init__(db)
        self.waiting: list[tuple[Any, Deferred[Any]]] = []

    def read(self, work: Any) -> Deferred[Any]:
        self.reads += 1
        answer: Deferred[Any] = Deferred()
        self.waiting.append((work, answer))
        return answer

    def finish(self) -> None:
        work, answer = self.waiting.pop(0)
        answer.callback(work(self.db))

    def fail(self) -> None:
        self.waiting.pop(0)[1].errback(Unavailable("the database is down"))


def a_change(shop: Shop, status: str = "paid") -> dict[str, Any]:
    """An order as it is published: stored, so a page can show it too."""
    order_id = an_order(shop, status)
    return {
        "id": order_id,
        "status": status,
        "channel": "online",
        "customer_id": shop.ani.user_id,
        "cancel_reason": None,
    }


def test_changes_published_while_the_page_is_read_follow_the_answer(
    mini_shop: Shop, db: pw.Database, hub: EventHub, clock: Clock
) -> None:
    """Subscribed before the read, so nothing committed after it is missed; held until the
    answer is written, so no push comes before the page it may be newer than."""
    reads = SlowReads(db)
    feed = StaffFeedService(reads, hub, clock, CURSORS)
    clerk = Recorder(identity=mini_shop.clerk)
    first, later = a_change(mini_shop), a_change(mini_shop)

    answering = subscribe(feed, clerk)
    hub.publish_order(first)
    hub.publish_order({**first, "status": "shipped"})
    reads.finish()
    hub.publish_order(later)  # the answer is written, its turn not over yet

    assert [o["id"] for o in result(answering)["items"]] == [first["id"], later["id"]]
    assert clerk.events == [], "nothing before the answer"
    clock.advance(0)
    assert [(o["id"], o["status"]) for o in clerk.of("order")] == [
        (first["id"], "shipped"),
        (later["id"], "paid"),
    ], "then the newest of each order that changed meanwhile"
    hub.publish_order({**later, "status": "cancelled", "cancel_reason": "staff"})
    assert clerk.of("order")[-1]["status"] == "cancelled", "and from then on, at once"


def test_pipelined_subscribes_release_the_pushes_after_the_last_answer(
    mini_shop: Shop, db: pw.Database, hub: EventHub, clock: Clock
) -> None:
    reads = SlowReads(db)
    feed = StaffFeedService(reads, hub, clock, CURSORS)
    clerk = Recorder(identity=mini_shop.clerk)
    one, two = subscribe(feed, clerk), subscribe(feed, clerk)

    reads.finish()
    clock.advance(0)
    hub.publish_order(a_change(mini_shop))
    assert result(one) and clerk.events == [], "the second page is still being read"
    reads.finish()
    assert result(two) and clerk.events == []
    clock.advance(0)
    assert len(clerk.of("order")) == 1


def test_a_failed_read_leaves_the_connection_as_it_was(
    mini_shop: Shop, db: pw.Database, hub: EventHub, clock: Clock
) -> None:
    reads = SlowReads(db)
    feed = StaffFeedService(reads, hub, clock, CURSORS)
    new, old = Recorder(identity=mini_shop.clerk), Recorder(identity=mini_shop.clerk)
    hub.staff.add(old)  # subscribed before

    failing = [subscribe(feed, new), subscribe(feed, old)]
    change = a_change(mini_shop)
    hub.publish_order(change)
    reads.fail()
    reads.fail()

    assert [error(d).code for d in failing] == [ErrorCode.UNAVAILABLE] * 2
    assert hub.staff == {old} and not hub.joining
    assert new.events == [] and [o["id"] for o in old.of("order")] == [change["id"]]


@pytest.mark.parametrize("ending", ["order.unsubscribe", "sign-out"])
def test_unsubscribing_or_signing_out_ends_the_feed_even_while_the_page_is_read(
    mini_shop: Shop, db: pw.Database, hub: EventHub, clock: Clock, ending: str
) -> None:
    reads = SlowReads(db)
    feed = StaffFeedService(reads, hub, clock, CURSORS)
    clerk = Recorder(identity=mini_shop.clerk)
    answering = subscribe(feed, clerk)

    if ending == "order.unsubscribe":
        assert result(ask_from(clerk, feed.unsubscribe, "order.unsubscribe")) == {}
    else:
        hub.unsubscribe_all(clerk)  # what the factory does when the identity changes
    hub.publish_order(a_change(mini_shop))
    reads.finish()
    clock.advance(0)
    hub.publish_order(a_change(mini_shop))

    assert result(answering)["items"], "the call is still answered"
    assert clerk.events == [] and not hub.staff_watching


def test_one_encoding_serves_every_staff_subscriber(mini_shop: Shop, hub: EventHub) -> None:
    seen: list[tuple[int, PushTemplate]] = []

    class Staff(Recorder):
        def send_order(self, order_id: int, template: PushTemplate) -> None:
            seen.append((order_id, template))

    for _ in range(50):
        hub.staff.add(Staff(identity=mini_shop.clerk))
    change = a_change(mini_shop)

    hub.publish_order(change)

    assert len(seen) == 50 and {order_id for order_id, _ in seen} == {change["id"]}
    assert len({id(template) for _, template in seen}) == 1


def test_point_of_sale_orders_and_checkouts_still_paying_are_not_for_staff(
    mini_shop: Shop, hub: EventHub
) -> None:
    clerk = Recorder(identity=mini_shop.clerk)
    hub.staff.add(clerk)
    change = a_change(mini_shop)

    hub.publish_order({**change, "status": "pending"})
    hub.publish_order({**change, "status": "cancelled", "cancel_reason": "interrupted"})
    hub.publish_order({**change, "channel": "pos", "customer_id": None, "status": "completed"})
    hub.publish_order({**change, "status": "cancelled", "cancel_reason": "customer"})

    assert [o["cancel_reason"] for o in clerk.of("order")] == ["customer"]


def test_an_order_changed_elsewhere_is_read_once_for_staff_here_but_not_while_pending(
    mini_shop: Shop, dbx: InlineDatabase, hub: EventHub
) -> None:
    order_id = an_order(mini_shop, "paid")
    feed = OrderFeed(dbx, hub)
    feed.changed(order_id, mini_shop.ani.user_id, "paid")
    assert dbx.reads == 0, "no owner and no staff here: nothing read"
    clerks = [Recorder(identity=mini_shop.clerk) for _ in range(3)]
    hub.staff.update(clerks)

    feed.changed(order_id, mini_shop.ani.user_id, "pending")
    assert dbx.reads == 0, "a checkout still paying: staff would not be sent it"
    feed.changed(order_id, mini_shop.ani.user_id, "paid")

    assert dbx.reads == 1
    assert all([o["id"] for o in clerk.of("order")] == [order_id] for clerk in clerks)
