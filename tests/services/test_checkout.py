"""Checkout, step by step on a Clock: pending while the payment runs, then paid or declined;
what a crash leaves pending settled at start; idempotency keys."""

from __future__ import annotations

from datetime import UTC, datetime

import peewee as pw
from twisted.internet.task import Clock

from db.models import CartLine, IdempotencyKey, Order, Product, User
from db.transactions import write_transaction
from protocol.errors import ErrorCode
from server import idempotency, sql
from server.dbexec import is_postgres
from server.events import EventHub
from server.payments import PAYMENT_TIMEOUT_S, FakeProvider
from server.services.cart import CART_LINES
from server.services.checkout import PENDING_LEASE_S
from server.services.order_jobs import CART_AND_KEY
from tests.services.inline_db import InlineDatabase, Shop, error, result
from tests.services.shopping import (
    CARD,
    DECLINED,
    PAY_S,
    checkout,
    fill_cart,
    order_service,
    status,
    stock,
    watch,
)


def cart_of(shop: Shop) -> list[tuple[int, int]]:
    return [(line.product_id, line.qty) for line in CartLine.select().order_by(CartLine.id)]


def test_an_order_is_pending_while_the_payment_runs_then_paid(
    mini_shop: Shop, dbx: InlineDatabase, hub: EventHub, clock: Clock
) -> None:
    orders = order_service(dbx, hub, clock)
    fill_cart(dbx, mini_shop.ani, (mini_shop.kopi, 2), (mini_shop.teh, 1))
    ani = watch(hub, mini_shop.ani, mini_shop.kopi, mini_shop.teh)
    writes = dbx.writes

    answer = checkout(orders, mini_shop.ani)

    assert not answer.called and orders.busy, "charge: the answer waits for the payment"
    (pending,) = ani.of("order")
    assert pending["status"] == "pending" and pending["total"] == 2 * 17500 + 9000
    assert status(pending["id"]) == ("pending", "pending"), "begin: order written pending"
    assert (stock(mini_shop.kopi), stock(mini_shop.teh)) == (3, 2), "begin: stock taken"
    assert [s["stock"] for s in ani.of("stock")] == [3, 2], "begin: stock pushed"
    assert len(cart_of(mini_shop)) == 2, "begin: the cart is kept until the payment succeeds"

    clock.advance(PAY_S)

    paid = result(answer)
    assert paid["id"] == pending["id"] and paid["status"] == "paid"
    assert paid["payment"]["status"] == "captured" and paid["payment"]["reference"]
    assert status(paid["id"]) == ("paid", "captured"), "mark_paid: order and payment stored"
    assert cart_of(mini_shop) == [], "mark_paid: the bought lines leave the cart"
    assert [o["status"] for o in ani.of("order")] == ["pending", "paid"], "mark_paid: pushed"
    assert not orders.busy
    assert dbx.writes - writes == 2, "a checkout is two write transactions, no more"


def test_a_declined_payment_gives_the_stock_back_and_keeps_the_cart(
    mini_shop: Shop, dbx: InlineDatabase, hub: EventHub, clock: Clock
) -> None:
    orders = order_service(dbx, hub, clock)
    fill_cart(dbx, mini_shop.ani, (mini_shop.kopi, 2))
    ani = watch(hub, mini_shop.ani, mini_shop.kopi)

    answer = checkout(orders, mini_shop.ani, payment=DECLINED)
    clock.advance(PAY_S)

    declined = error(answer)
    assert declined.code == ErrorCode.PAYMENT_DECLINED
    order_id = declined.details["order_id"]
    assert declined.details["reason"] == "card declined by the issuer"
    assert status(order_id) == ("cancelled", "declined"), "mark_declined: order and payment"
    assert Order.get_by_id(order_id).cancel_reason == "payment_declined"
    assert stock(mini_shop.kopi) == 5, "mark_declined: the stock is given back"
    assert [s["stock"] for s in ani.of("stock")] == [3, 5], "taken, then given back: pushed"
    assert [o["status"] for o in ani.of("order")] == ["pending", "cancelled"]
    assert cart_of(mini_shop) == [(mini_shop.kopi, 2)], "the cart is kept for another try"
    assert not IdempotencyKey.select().exists(), "mark_declined: the key is freed"

    retried = checkout(orders, mini_shop.ani, payment=CARD)  # same key, another card
    clock.advance(PAY_S)
    assert result(retried)["status"] == "paid", "a declined key may pay with another card"


def test_a_payment_that_does_not_answer_leaves_the_order_pending_for_the_sweep(
    mini_shop: Shop, dbx: InlineDatabase, hub: EventHub, clock: Clock
) -> None:
    silent = FakeProvider(clock, delay_s=PAYMENT_TIMEOUT_S * 10)
    orders = order_service(dbx, hub, clock, silent)
    fill_cart(dbx, mini_shop.ani, (mini_shop.kopi, 1))

    answer = checkout(orders, mini_shop.ani)
    clock.advance(PAYMENT_TIMEOUT_S)

    timed_out = error(answer)
    assert timed_out.code == ErrorCode.UNAVAILABLE, "charge: gives up after the timeout"
    assert timed_out.details == {"retry_after_ms": int(PENDING_LEASE_S * 1000)}
    (order,) = Order.select()
    assert status(order.id) == ("pending", "pending"), "nothing settled: the sweep will"
    assert stock(mini_shop.kopi) == 4
    assert not orders.busy


def crashed_checkout(shop: Shop, dbx: InlineDatabase, hub: EventHub, gateway: FakeProvider) -> int:
    """A checkout stopped for good between its transactions: its server died while the
    gateway was charging (its clock never moves again). The pending order's id."""
    dead = order_service(dbx, hub, gateway.clock, gateway)
    fill_cart(dbx, shop.ani, (shop.kopi, 2))
    assert not checkout(dead, shop.ani).called
    (order,) = Order.select()
    return order.id


def test_at_start_a_pending_order_the_gateway_never_charged_is_released(
    mini_shop: Shop, dbx: InlineDatabase, hub: EventHub, clock: Clock
) -> None:
    order_id = crashed_checkout(mini_shop, dbx, hub, FakeProvider(Clock(), PAY_S))
    restarted = order_service(dbx, hub, clock)  # a new gateway: it never saw the order
    ani = watch(hub, mini_shop.ani, mini_shop.kopi)

    settling = restarted.settle_pending(None)
    clock.advance(PAY_S)

    assert result(settling) == 1
    assert status(order_id) == ("cancelled", "declined"), "settle: released"
    assert Order.get_by_id(order_id).cancel_reason == "interrupted"
    assert stock(mini_shop.kopi) == 5, "settle: the stock is given back"
    assert [o["status"] for o in ani.of("order")] == ["cancelled"], "settle: pushed"
    assert [s["stock"] for s in ani.of("stock")] == [5]
    assert cart_of(mini_shop) == [(mini_shop.kopi, 2)]


def test_at_start_a_pending_order_the_gateway_charged_is_paid(
    mini_shop: Shop, dbx: InlineDatabase, hub: EventHub, clock: Clock
) -> None:
    gateway = FakeProvider(Clock(), PAY_S)
    order_id = crashed_checkout(mini_shop, dbx, hub, gateway)
    same_gateway = FakeProvider(clock, PAY_S)
    same_gateway.charges = gateway.charges  # the gateway outlived the server
    restarted = order_service(dbx, hub, clock, same_gateway)
    ani = watch(hub, mini_shop.ani)

    settling = restarted.settle_pending(None)
    clock.advance(PAY_S)

    assert result(settling) == 1
    assert status(order_id) == ("paid", "captured"), "settle: the charge is kept"
    assert stock(mini_shop.kopi) == 3 and cart_of(mini_shop) == []
    assert [(o["id"], o["status"]) for o in ani.of("order")] == [(order_id, "paid")]


def test_the_sweep_settles_only_orders_pending_longer_than_the_lease(
    mini_shop: Shop, dbx: InlineDatabase, hub: EventHub, clock: Clock, db: pw.Database
) -> None:
    """On PostgreSQL another server may be charging a fresh pending order; past the lease
    none can be (a checkout gives up on its payment first)."""
    order_id = crashed_checkout(mini_shop, dbx, hub, FakeProvider(Clock(), PAY_S))
    restarted = order_service(dbx, hub, clock)
    stamped = Order.get_by_id(order_id).updated_at.replace(tzinfo=UTC)
    clock.advance(stamped.timestamp())  # a reactor's clock is wall time, as the stamps are

    assert result(restarted.settle_pending(PENDING_LEASE_S)) == 0, "fresh: left alone"
    assert status(order_id) == ("pending", "pending")

    clock.advance(PENDING_LEASE_S + 1)
    settling = restarted.settle_pending(PENDING_LEASE_S)
    clock.advance(PAY_S)
    assert result(settling) == 1, "past the lease: settled"
    assert status(order_id) == ("cancelled", "declined")


def test_a_retry_while_the_key_is_pending_after_a_crash_is_in_progress(
    mini_shop: Shop, dbx: InlineDatabase, hub: EventHub, clock: Clock
) -> None:
    crashed_checkout(mini_shop, dbx, hub, FakeProvider(Clock(), PAY_S))
    restarted = order_service(dbx, hub, clock)

    retried = error(checkout(restarted, mini_shop.ani))

    assert retried.code == ErrorCode.CONFLICT
    assert retried.details == {"field": "idempotency_key", "reason": "in_progress"}
    assert stock(mini_shop.kopi) == 3, "begin: nothing taken twice"


def test_the_same_key_gives_the_same_order_and_takes_the_stock_once(
    mini_shop: Shop, dbx: InlineDatabase, hub: EventHub, clock: Clock
) -> None:
    orders = order_service(dbx, hub, clock)
    fill_cart(dbx, mini_shop.ani, (mini_shop.kopi, 2))
    first = checkout(orders, mini_shop.ani)
    clock.advance(PAY_S)
    paid = result(first)
    fill_cart(dbx, mini_shop.ani, (mini_shop.teh, 1))  # the cart changed meanwhile
    writes = dbx.writes

    again = result(checkout(orders, mini_shop.ani))

    assert again == paid, "begin: the stored order, as it is now"
    assert (stock(mini_shop.kopi), stock(mini_shop.teh)) == (3, 3), "nothing taken again"
    assert Order.select().count() == 1
    assert dbx.writes - writes == 1, "no charge, no second transaction"


def test_a_key_used_with_other_arguments_is_refused(
    mini_shop: Shop, dbx: InlineDatabase, hub: EventHub, clock: Clock
) -> None:
    orders = order_service(dbx, hub, clock)
    fill_cart(dbx, mini_shop.ani, (mini_shop.kopi, 1))
    first = checkout(orders, mini_shop.ani)

    running = error(checkout(orders, mini_shop.ani, payment={"method": "ewallet", "token": "t"}))
    clock.advance(PAY_S)
    result(first)
    stored = error(checkout(orders, mini_shop.ani, payment={"method": "card", "token": "other"}))

    for refused, when in ((running, "while it runs"), (stored, "once stored")):
        assert refused.code == ErrorCode.CONFLICT, when
        assert refused.details == {"field": "idempotency_key"}, when
    assert Order.select().count() == 1


def test_a_retry_while_the_checkout_runs_waits_and_shares_its_order(
    mini_shop: Shop, dbx: InlineDatabase, hub: EventHub, clock: Clock
) -> None:
    orders = order_service(dbx, hub, clock)
    fill_cart(dbx, mini_shop.ani, (mini_shop.kopi, 1))
    first = checkout(orders, mini_shop.ani)
    writes = dbx.writes

    retry = checkout(orders, mini_shop.ani)

    assert not retry.called and dbx.writes == writes, "the retry waits, writing nothing"
    clock.advance(PAY_S)
    assert result(first) == result(retry)
    assert stock(mini_shop.kopi) == 4 and Order.select().count() == 1


def test_each_customer_has_their_own_keys(
    mini_shop: Shop, dbx: InlineDatabase, hub: EventHub, clock: Clock
) -> None:
    orders = order_service(dbx, hub, clock)
    fill_cart(dbx, mini_shop.ani, (mini_shop.kopi, 1))
    fill_cart(dbx, mini_shop.budi, (mini_shop.kopi, 1))
    ani, budi = checkout(orders, mini_shop.ani), checkout(orders, mini_shop.budi)
    clock.advance(PAY_S)
    assert result(ani)["id"] != result(budi)["id"]
    assert stock(mini_shop.kopi) == 3


def test_an_empty_cart_cannot_be_checked_out(
    mini_shop: Shop, dbx: InlineDatabase, hub: EventHub, clock: Clock
) -> None:
    refused = error(checkout(order_service(dbx, hub, clock), mini_shop.ani))
    assert refused.code == ErrorCode.INVALID_STATE and refused.details == {"reason": "empty_cart"}
    assert not Order.select().exists() and not IdempotencyKey.select().exists()


def test_a_cart_the_stock_cannot_cover_takes_nothing(
    mini_shop: Shop, dbx: InlineDatabase, hub: EventHub, clock: Clock
) -> None:
    orders = order_service(dbx, hub, clock)
    fill_cart(dbx, mini_shop.ani, (mini_shop.kopi, 2), (mini_shop.teh, 3))
    fill_cart(dbx, mini_shop.budi, (mini_shop.teh, 1))
    budi = checkout(orders, mini_shop.budi, key="b")
    clock.advance(PAY_S)
    result(budi)

    short = error(checkout(orders, mini_shop.ani))

    assert short.code == ErrorCode.OUT_OF_STOCK
    assert short.details == {"product_id": mini_shop.teh, "requested": 3, "available": 2}
    assert (stock(mini_shop.kopi), stock(mini_shop.teh)) == (5, 2), "begin: all or nothing"
    assert Order.select().count() == 1 and IdempotencyKey.select().count() == 1


def test_an_archived_product_in_the_cart_is_out_of_stock_saying_it_is_no_longer_sold(
    mini_shop: Shop, dbx: InlineDatabase, hub: EventHub, clock: Clock
) -> None:
    orders = order_service(dbx, hub, clock)
    fill_cart(dbx, mini_shop.ani, (mini_shop.kopi, 2))
    Product.update(archived=True).where(Product.id == mini_shop.kopi).execute()

    gone = error(checkout(orders, mini_shop.ani))

    assert gone.code == ErrorCode.OUT_OF_STOCK
    assert gone.details == {
        "product_id": mini_shop.kopi,
        "requested": 2,
        "available": 0,
        "archived": True,
    }
    assert stock(mini_shop.kopi) == 5 and not Order.select().exists()


def test_a_cart_the_stock_cannot_cover_is_refused_before_its_order_is_written(
    db: pw.Database, mini_shop: Shop, dbx: InlineDatabase, hub: EventHub, clock: Clock
) -> None:
    orders = order_service(dbx, hub, clock)
    fill_cart(dbx, mini_shop.ani, (mini_shop.kopi, 2), (mini_shop.teh, 3))
    fill_cart(dbx, mini_shop.budi, (mini_shop.teh, 1))
    budi = checkout(orders, mini_shop.budi, key="b")
    clock.advance(PAY_S)
    result(budi)
    statements: list[str] = []
    db.connection().set_trace_callback(statements.append)
    try:
        short = error(checkout(orders, mini_shop.ani))
    finally:
        db.connection().set_trace_callback(None)

    assert short.details == {"product_id": mini_shop.teh, "requested": 3, "available": 2}
    changes = [s.split("(")[0] for s in statements if s.startswith(("INSERT", "UPDATE"))]
    assert changes == ["INSERT INTO idempotency_keys "], "only the key claimed, then undone"
    assert Order.select().count() == 1 and IdempotencyKey.select().count() == 1


def test_a_key_that_bought_the_last_units_gives_its_order_again_not_out_of_stock(
    mini_shop: Shop, dbx: InlineDatabase, hub: EventHub, clock: Clock
) -> None:
    orders = order_service(dbx, hub, clock)
    fill_cart(dbx, mini_shop.ani, (mini_shop.teh, 3))
    first = checkout(orders, mini_shop.ani)
    clock.advance(PAY_S)
    paid = result(first)
    fill_cart(dbx, mini_shop.ani, (mini_shop.kopi, 1))
    fill_cart(dbx, mini_shop.budi, (mini_shop.kopi, 5))
    budi = checkout(orders, mini_shop.budi, key="b")
    clock.advance(PAY_S)
    result(budi)  # none left of what ani's cart holds now: only the key can answer

    again = result(checkout(orders, mini_shop.ani))
    other = error(checkout(orders, mini_shop.ani, payment={"method": "ewallet", "token": "t"}))

    assert again == paid and stock(mini_shop.kopi) == 0
    assert other.code == ErrorCode.CONFLICT and other.details == {"field": "idempotency_key"}


def test_a_checkout_reads_its_cart_in_order_its_key_and_orders_being_paid_in_one_statement(
    database: pw.Database,
):
    """`CART_AND_KEY`: the cart's lines as `CART_LINES` orders them (when added), then the
    key's fingerprint and stored answer (none for a key not claimed), then the customer's
    online orders being paid for."""
    user = User.create(username="ani", password_hash="x", role="customer").id
    later, sooner = (
        Product.create(sku=sku, name=sku, price=1_000, currency="IDR", stock=5, initial_stock=5)
        for sku in ("LATER", "SOONER")
    )
    CartLine.create(user=user, product=later, qty=1, added_at=datetime(2026, 1, 2))
    CartLine.create(user=user, product=sooner, qty=2, added_at=datetime(2026, 1, 1))
    with write_transaction(database):
        idempotency.claim(database, user, "k", "print", sql.now(), response={"order_id": 7})
    *lines, key = sql.rows(database, CART_AND_KEY, (user, user, "k", user))
    assert [line[:8] for line in lines] == sql.rows(database, CART_LINES, (user,))
    assert [line[0] for line in lines] == [sooner.id, later.id]
    assert key[8] == 1 and key[11] == "print"
    assert idempotency.replay((key[11], key[12]), "print") == {"order_id": 7}
    other = (user, user, "other", user)
    assert [row[8] for row in sql.rows(database, CART_AND_KEY, other)] == [0, 0]
    for order_status in ("pending", "paid"):
        sql.execute(
            database,
            "INSERT INTO orders (customer_id, status, channel, total, currency, created_at, "
            "updated_at) VALUES (?, ?, 'online', 1000, 'IDR', ?, ?)",
            (user, order_status, sql.now(), sql.now()),
        )
    (paying,) = [row for row in sql.rows(database, CART_AND_KEY, other) if row[8] == 2]
    assert paying[13] == Order.get(Order.status == "pending").id


def test_the_checkout_finds_a_customers_order_being_paid_for_by_its_own_index(
    database: pw.Database,
):
    """Not by scanning every pending order: a flash sale has thousands at once."""
    explain = "EXPLAIN " if is_postgres(database) else "EXPLAIN QUERY PLAN "
    plan = str(sql.rows(database, explain + CART_AND_KEY, (1, 1, "k", 1)))
    assert "orders_pending_customer_id" in plan, plan
