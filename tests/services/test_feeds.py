"""The stock feed and the order feed in process: what a connection is sent, what is read."""

from __future__ import annotations

from typing import Any

import pytest
from twisted.internet.defer import Deferred

from db.models import Order
from protocol.errors import ErrorCode
from server.events import EventHub, StockChange
from server.services.order_feed import OrderFeed
from server.services.stock_feed import StockFeedService
from tests.services.asking import ask_from
from tests.services.inline_db import CURRENCY, InlineDatabase, Recorder, Shop, error, result


@pytest.fixture
def feed(dbx: InlineDatabase, hub: EventHub) -> StockFeedService:
    return StockFeedService(dbx, hub, max_subscriptions=2)


def subscribe(feed: StockFeedService, conn: Recorder, *ids: int) -> Deferred[Any]:
    args: dict[str, Any] = {"product_ids": list(ids)} if ids else {"all": True}
    return ask_from(conn, feed.subscribe, "stock.subscribe", **args)


def test_a_subscriber_gets_a_snapshot_in_its_order_then_each_change(
    mini_shop: Shop, feed: StockFeedService, hub: EventHub
) -> None:
    conn = Recorder(identity=mini_shop.ani)

    answer = result(subscribe(feed, conn, mini_shop.teh, mini_shop.kopi))

    assert answer == {
        "snapshot": [
            {"product_id": mini_shop.teh, "stock": 3, "version": 1},
            {"product_id": mini_shop.kopi, "stock": 5, "version": 1},
        ]
    }
    hub.publish_stock([StockChange(mini_shop.kopi, 4, 2), StockChange(99, 1, 2)])
    assert conn.of("stock") == [{"product_id": mini_shop.kopi, "stock": 4, "version": 2}]


def test_a_snapshot_never_shows_a_value_older_than_one_published(
    mini_shop: Shop, feed: StockFeedService, hub: EventHub
) -> None:
    """A change published while the snapshot was read is newer than the row read."""
    hub.publish_stock([StockChange(mini_shop.kopi, 2, 7)])

    answer = result(subscribe(feed, Recorder(identity=mini_shop.ani), mini_shop.kopi))

    assert answer["snapshot"] == [{"product_id": mini_shop.kopi, "stock": 2, "version": 7}]


def test_an_unknown_product_is_not_found_and_nothing_is_subscribed(
    mini_shop: Shop, feed: StockFeedService, hub: EventHub
) -> None:
    conn = Recorder(identity=mini_shop.ani)

    missing = error(subscribe(feed, conn, mini_shop.kopi, 9999))

    assert missing.code == ErrorCode.NOT_FOUND and missing.details["id"] == 9999
    assert conn not in hub.subscriptions and not hub.by_product


def test_a_connection_watches_at_most_max_subscriptions_products(
    mini_shop: Shop, feed: StockFeedService, dbx: InlineDatabase, hub: EventHub
) -> None:
    conn = Recorder(identity=mini_shop.ani)
    result(subscribe(feed, conn, mini_shop.kopi))
    result(subscribe(feed, conn, mini_shop.kopi, mini_shop.teh))  # one more: at the limit
    reads = dbx.reads

    over = error(subscribe(feed, conn, 9999))

    assert over.code == ErrorCode.INVALID_STATE
    assert over.details == {"reason": "too_many_subscriptions", "limit": 2}
    assert dbx.reads == reads, "refused before the snapshot is read"
    assert hub.subscriptions[conn] == {mini_shop.kopi, mini_shop.teh}
    result(subscribe(feed, conn))  # every product: no limit


def test_a_connection_closed_meanwhile_keeps_no_subscription(
    mini_shop: Shop, feed: StockFeedService, hub: EventHub
) -> None:
    conn = Recorder(identity=mini_shop.ani, closing=True)

    assert result(subscribe(feed, conn, mini_shop.kopi)) == {"snapshot": []}
    assert conn not in hub.subscriptions


def test_watched_stock_reads_only_what_is_watched(
    mini_shop: Shop, feed: StockFeedService, dbx: InlineDatabase, hub: EventHub
) -> None:
    assert result(feed.watched_stock()) == [] and dbx.reads == 0, "nobody watches: no read"
    result(subscribe(feed, Recorder(identity=mini_shop.ani), mini_shop.teh))
    assert result(feed.watched_stock()) == [StockChange(mini_shop.teh, 3, 1)]
    result(subscribe(feed, Recorder(identity=mini_shop.budi)))
    assert result(feed.watched_stock()) == [
        StockChange(mini_shop.kopi, 5, 1),
        StockChange(mini_shop.teh, 3, 1),
    ]


def test_an_order_changed_elsewhere_reaches_its_owners_connections_here(
    mini_shop: Shop, dbx: InlineDatabase, hub: EventHub
) -> None:
    order = Order.create(
        customer=mini_shop.ani.user_id, status="paid", channel="online", total=1, currency=CURRENCY
    )
    orders = OrderFeed(dbx, hub)
    orders.changed(order.id, mini_shop.ani.user_id, "paid")
    assert dbx.reads == 0, "the owner has no connection here: nothing read"
    ani, budi = Recorder(identity=mini_shop.ani), Recorder(identity=mini_shop.budi)
    hub.watch_user(ani, mini_shop.ani.user_id)
    hub.watch_user(budi, mini_shop.budi.user_id)

    orders.changed(order.id, mini_shop.ani.user_id, "paid")

    ((status, pushed),) = [(o["status"], o["id"]) for o in ani.of("order")]
    assert (status, pushed) == ("paid", order.id) and budi.events == []
