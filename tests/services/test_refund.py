"""`clerk.refund` step by step on a Clock: partial then whole, what is refused and leaves
everything as it was, the provider paid back once after the commit, repeats under a key,
and (test_refund_register.py) a cash refund that belongs to the refunding clerk's open
register."""

from __future__ import annotations

import json
from typing import Any

import peewee as pw
import pytest
from twisted.internet.task import Clock

from protocol.errors import ErrorCode
from server import sql
from server.events import EventHub
from server.payments import PAYMENT_TIMEOUT_S
from server.services.orders import OrderService
from server.services.refund import RefundService
from tests.services.inline_db import InlineDatabase, Shop, ask, error, result
from tests.services.refunding import Order, books_balance, refund, refund_rows, refunded
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
def orders(dbx: InlineDatabase, hub: EventHub, clock: Clock, gateway: Gateway) -> OrderService:
    return order_service(dbx, hub, clock, gateway)


@pytest.fixture
def order(mini_shop: Shop, dbx: InlineDatabase, clock: Clock, orders: OrderService) -> Order:
    """Ani's paid card order: 3 kopi at 17500 and 2 teh at 9000 (stock left: 2 and 1)."""
    fill_cart(dbx, mini_shop.ani, (mini_shop.kopi, 3), (mini_shop.teh, 2))
    paying = checkout(orders, mini_shop.ani)
    clock.advance(PAY_S)
    return result(paying)


def test_a_partial_refund_then_the_rest(
    mini_shop: Shop,
    db: pw.Database,
    hub: EventHub,
    clock: Clock,
    gateway: Gateway,
    refunds: RefundService,
    order: Order,
) -> None:
    ani = watch(hub, mini_shop.ani, mini_shop.kopi, mini_shop.teh)
    charge = order["payment"]["reference"]

    first = refund(refunds, mini_shop.clerk, order["id"], lines=[{"product_id": mini_shop.kopi}])

    assert not first.called, "the answer waits for the provider, after the commit"
    assert stock(mini_shop.kopi) == 5, "refund_order: committed before the provider is asked"
    assert gateway.refunds == [(charge, 3 * 17500)]
    assert refund_rows(db) == [(order["id"], mini_shop.clerk.user_id, None, "card", 52500, None)]
    clock.advance(PAY_S)
    part = result(first)
    assert part["status"] == "paid" and refunded(part) == {mini_shop.kopi: 3, mini_shop.teh: 0}
    assert part["refund"] == {"id": 1, "amount": 52500, "method": "card", "register_id": None}
    assert status(order["id"]) == ("paid", "captured"), "units left: the status stays"
    assert refund_rows(db)[0][-1] == charge, "refund_paid_back: the provider confirmed it"
    assert [s["stock"] for s in ani.of("stock")] == [5]
    assert [(o["status"], refunded(o)) for o in ani.of("order")] == [
        ("paid", {mini_shop.kopi: 3, mini_shop.teh: 0})
    ], "the owner sees the part refunded"
    (entry,) = sql.rows(db, "SELECT user_id, action, target, details FROM audit_log")
    assert entry[:3] == (mini_shop.clerk.user_id, "clerk.refund", f"order:{order['id']}")
    assert json.loads(entry[3]) == {
        **part["refund"],
        "lines": [[mini_shop.kopi, 3]],
        "reason": "rusak",
    }

    rest = refund(refunds, mini_shop.clerk, order["id"])
    clock.advance(PAY_S)
    whole = result(rest)

    assert whole["status"] == "refunded" and whole["payment"]["status"] == "refunded"
    assert refunded(whole) == {mini_shop.kopi: 3, mini_shop.teh: 2}
    assert whole["refund"]["amount"] == 2 * 9000 and gateway.refunds[-1] == (charge, 18000)
    assert status(order["id"]) == ("refunded", "refunded")
    assert (stock(mini_shop.kopi), stock(mini_shop.teh)) == (5, 3)
    assert [o["status"] for o in ani.of("order")] == ["paid", "refunded"], "the owner is told"
    assert [s["stock"] for s in ani.of("stock")] == [5, 3]
    books_balance(db)


def test_units_by_qty_then_a_line_without_qty_takes_what_remains(
    mini_shop: Shop, db: pw.Database, clock: Clock, refunds: RefundService, order: Order
) -> None:
    some = refund(
        refunds, mini_shop.clerk, order["id"], lines=[{"product_id": mini_shop.kopi, "qty": 2}]
    )
    clock.advance(PAY_S)
    assert refunded(result(some))[mini_shop.kopi] == 2

    rest = refund(refunds, mini_shop.clerk, order["id"], lines=[{"product_id": mini_shop.kopi}])
    clock.advance(PAY_S)
    answer = result(rest)
    assert refunded(answer)[mini_shop.kopi] == 3 and answer["refund"]["amount"] == 17500
    assert answer["status"] == "paid", "teh is not refunded yet"
    books_balance(db)


def test_units_not_fit_to_sell_are_refunded_but_not_put_back_on_sale(
    mini_shop: Shop,
    db: pw.Database,
    hub: EventHub,
    clock: Clock,
    gateway: Gateway,
    refunds: RefundService,
    order: Order,
) -> None:
    ani = watch(hub, mini_shop.ani, mini_shop.kopi)
    line = [{"product_id": mini_shop.kopi, "qty": 2}]
    version = sql.one(db, "SELECT version FROM products WHERE id = ?", (mini_shop.kopi,))
    done = refund(refunds, mini_shop.clerk, order["id"], lines=line, restock=False)
    clock.advance(PAY_S)
    answer = result(done)

    assert refunded(answer)[mini_shop.kopi] == 2 and answer["refund"]["amount"] == 2 * 17500
    assert gateway.refunds[-1][1] == 2 * 17500, "the money goes back all the same"
    assert stock(mini_shop.kopi) == 2, "the units are not on sale"
    moved = sql.rows(
        db,
        "SELECT kind, delta, stock_after, order_id, reason FROM stock_movements "
        "WHERE product_id = ? AND kind IN ('refund', 'adjustment') ORDER BY id",
        (mini_shop.kopi,),
    )
    assert moved == [
        ("refund", 2, 4, order["id"], "rusak"),
        ("adjustment", -2, 2, order["id"], "refunded, not back on sale: rusak"),
    ]
    assert ani.of("stock") == [], "no event: the stock is as it was"
    assert sql.one(db, "SELECT version FROM products WHERE id = ?", (mini_shop.kopi,)) == version

    (entry,) = sql.rows(db, "SELECT details FROM audit_log WHERE action = 'clerk.refund'")
    assert json.loads(entry[0])["restock"] is False
    books_balance(db)


@pytest.mark.parametrize(
    "lines",
    [
        pytest.param([{"product_id": "kopi", "qty": 4}], id="more than bought"),
        pytest.param(
            [{"product_id": "teh", "qty": 1}, {"product_id": "kopi", "qty": 4}],
            id="one line of two",
        ),
        pytest.param([{"product_id": 999, "qty": 1}], id="not in the order"),
    ],
)
def test_over_refund_refunds_nothing(
    mini_shop: Shop,
    db: pw.Database,
    gateway: Gateway,
    refunds: RefundService,
    order: Order,
    lines: list[dict[str, Any]],
) -> None:
    ids = {"kopi": mini_shop.kopi, "teh": mini_shop.teh}
    asked = [
        {**line, "product_id": ids.get(line["product_id"], line["product_id"])} for line in lines
    ]
    refused = error(refund(refunds, mini_shop.clerk, order["id"], lines=asked))
    assert refused.code == ErrorCode.INVALID_STATE
    assert refused.details == {"reason": "over_refund", "product_id": asked[-1]["product_id"]}
    assert (stock(mini_shop.kopi), stock(mini_shop.teh)) == (2, 1), "no stock came back"
    assert refund_rows(db) == [] and gateway.refunds == []
    assert status(order["id"]) == ("paid", "captured")
    books_balance(db)


def test_a_line_without_qty_for_a_product_all_refunded_is_over_refund(
    mini_shop: Shop, clock: Clock, refunds: RefundService, order: Order
) -> None:
    done = refund(refunds, mini_shop.clerk, order["id"], lines=[{"product_id": mini_shop.teh}])
    clock.advance(PAY_S)
    result(done)
    again = error(
        refund(refunds, mini_shop.clerk, order["id"], lines=[{"product_id": mini_shop.teh}])
    )
    assert again.details == {"reason": "over_refund", "product_id": mini_shop.teh}


def test_a_product_in_two_lines_is_a_bad_request(
    mini_shop: Shop, refunds: RefundService, order: Order
) -> None:
    lines = [{"product_id": mini_shop.kopi, "qty": 1}, {"product_id": mini_shop.kopi, "qty": 1}]
    refused = error(refund(refunds, mini_shop.clerk, order["id"], lines=lines))
    assert refused.code == ErrorCode.BAD_REQUEST
    assert refused.details == {"field": "lines[1]", "rule": "repeats a product"}
    assert stock(mini_shop.kopi) == 2


def test_shipped_and_delivered_orders_are_refunded(
    mini_shop: Shop, clock: Clock, orders: OrderService, refunds: RefundService, order: Order
) -> None:
    result(ask(orders.ship, mini_shop.clerk, "order.ship", order_id=order["id"]))
    shipped = refund(refunds, mini_shop.clerk, order["id"], lines=[{"product_id": mini_shop.teh}])
    clock.advance(PAY_S)
    assert result(shipped)["status"] == "shipped"
    result(ask(orders.deliver, mini_shop.clerk, "order.deliver", order_id=order["id"]))
    delivered = refund(refunds, mini_shop.clerk, order["id"])
    clock.advance(PAY_S)
    assert result(delivered)["status"] == "refunded"


def test_refused_from_pending_cancelled_and_refunded(
    mini_shop: Shop,
    dbx: InlineDatabase,
    clock: Clock,
    orders: OrderService,
    refunds: RefundService,
    order: Order,
) -> None:
    whole = refund(refunds, mini_shop.clerk, order["id"])
    clock.advance(PAY_S)
    result(whole)
    again = error(refund(refunds, mini_shop.clerk, order["id"]))
    assert again.code == ErrorCode.INVALID_STATE
    assert again.details == {"status": "refunded", "allowed": []}

    fill_cart(dbx, mini_shop.budi, (mini_shop.teh, 1))
    paying = checkout(orders, mini_shop.budi, key="budi-1")
    (pending_id,) = [
        o for (o,) in sql.rows(dbx.db, "SELECT id FROM orders WHERE status = 'pending'")
    ]
    early = error(refund(refunds, mini_shop.clerk, pending_id))
    assert early.details == {"status": "pending", "allowed": ["cancelled", "paid"]}  # online
    clock.advance(PAY_S)
    result(paying)

    cancelling = ask(orders.cancel, mini_shop.budi, "order.cancel", order_id=pending_id)
    clock.advance(PAY_S)
    result(cancelling)
    late = error(refund(refunds, mini_shop.clerk, pending_id))
    assert late.details == {"status": "cancelled", "allowed": []}
    assert stock(mini_shop.teh) == 3, "nothing given back twice"


def test_an_unknown_order_is_not_found_and_customers_may_not_refund(
    mini_shop: Shop, refunds: RefundService, order: Order
) -> None:
    missing = error(refund(refunds, mini_shop.clerk, 999))
    assert missing.code == ErrorCode.NOT_FOUND and missing.details == {"kind": "order", "id": 999}
    mine = error(refund(refunds, mini_shop.ani, order["id"]))
    assert mine.code == ErrorCode.FORBIDDEN, "not even the owner: refunds are staff's"
    assert stock(mini_shop.kopi) == 2


def test_the_same_key_and_arguments_refund_once(
    mini_shop: Shop,
    db: pw.Database,
    hub: EventHub,
    clock: Clock,
    gateway: Gateway,
    refunds: RefundService,
    order: Order,
) -> None:
    lines = [{"product_id": mini_shop.kopi, "qty": 1}]
    first = refund(refunds, mini_shop.clerk, order["id"], lines=lines, idempotency_key="r-1")
    clock.advance(PAY_S)
    answer = result(first)
    clerk = watch(hub, mini_shop.clerk, mini_shop.kopi)

    again = result(
        refund(refunds, mini_shop.clerk, order["id"], lines=lines, idempotency_key="r-1")
    )

    assert again == answer, "the first result, refund included"
    said = refund(
        refunds, mini_shop.clerk, order["id"], lines=lines, idempotency_key="r-1", restock=True
    )
    assert result(said) == answer, "restock given as its default is the same refund"
    assert stock(mini_shop.kopi) == 3 and len(refund_rows(db)) == 1, "applied once"
    assert len(gateway.refunds) == 1, "the provider is not asked again"
    assert sql.one(db, "SELECT count(*) FROM audit_log") == (1,), "audited once"
    assert clerk.events == [], "nothing new to push"
    books_balance(db)


def test_the_same_key_with_other_arguments_is_a_conflict(
    mini_shop: Shop, db: pw.Database, clock: Clock, refunds: RefundService, order: Order
) -> None:
    lines = [{"product_id": mini_shop.kopi, "qty": 1}]
    first = refund(refunds, mini_shop.clerk, order["id"], lines=lines, idempotency_key="r-1")
    clock.advance(PAY_S)
    result(first)

    other = [{"product_id": mini_shop.kopi, "qty": 2}]
    refused = error(
        refund(refunds, mini_shop.clerk, order["id"], lines=other, idempotency_key="r-1")
    )

    assert refused.code == ErrorCode.CONFLICT
    assert refused.details["field"] == "idempotency_key"
    kept_off_sale = error(
        refund(
            refunds, mini_shop.clerk, order["id"], lines=lines, idempotency_key="r-1", restock=False
        )
    )
    assert kept_off_sale.code == ErrorCode.CONFLICT, "not putting them back is another refund"
    assert stock(mini_shop.kopi) == 3 and len(refund_rows(db)) == 1


def test_a_failed_refund_is_not_stored_under_its_key(
    mini_shop: Shop, clock: Clock, refunds: RefundService, order: Order
) -> None:
    too_many = [{"product_id": mini_shop.kopi, "qty": 4}]
    refused = error(
        refund(refunds, mini_shop.clerk, order["id"], lines=too_many, idempotency_key="r-2")
    )
    assert refused.details["reason"] == "over_refund"
    fewer = [{"product_id": mini_shop.kopi, "qty": 3}]
    retried = refund(refunds, mini_shop.clerk, order["id"], lines=fewer, idempotency_key="r-2")
    clock.advance(PAY_S)
    assert refunded(result(retried))[mini_shop.kopi] == 3


@pytest.mark.parametrize("gateway_kind", [BrokenGateway, SilentGateway])
def test_a_provider_that_fails_leaves_the_refund_recorded_and_unconfirmed(
    mini_shop: Shop,
    db: pw.Database,
    dbx: InlineDatabase,
    hub: EventHub,
    clock: Clock,
    gateway_kind: type[Gateway],
) -> None:
    broken = gateway_kind(clock)
    orders = order_service(dbx, hub, clock, broken)
    refunds = RefundService(dbx, hub, broken, clock)
    fill_cart(dbx, mini_shop.ani, (mini_shop.kopi, 1))
    paying = checkout(orders, mini_shop.ani)
    clock.advance(PAY_S)
    order = result(paying)

    failing = refund(refunds, mini_shop.clerk, order["id"])
    clock.advance(PAYMENT_TIMEOUT_S)

    failed = error(failing)
    assert failed.code == ErrorCode.UNAVAILABLE
    assert failed.details == {"reason": "provider", "refund_id": 1}
    assert status(order["id"]) == ("refunded", "refunded") and stock(mini_shop.kopi) == 5
    (row,) = refund_rows(db)
    assert row[-1] is None, "no reference: the provider never confirmed it"
    again = error(refund(refunds, mini_shop.clerk, order["id"]))
    assert again.code == ErrorCode.INVALID_STATE and len(broken.refunds) == 1, "never twice"


@pytest.mark.parametrize("gateway_kind", [BrokenGateway, SilentGateway])
def test_a_keyed_refund_the_provider_failed_replays_unavailable_not_success(
    mini_shop: Shop,
    db: pw.Database,
    dbx: InlineDatabase,
    hub: EventHub,
    clock: Clock,
    gateway_kind: type[Gateway],
) -> None:
    broken = gateway_kind(clock)
    orders = order_service(dbx, hub, clock, broken)
    refunds = RefundService(dbx, hub, broken, clock)
    fill_cart(dbx, mini_shop.ani, (mini_shop.kopi, 1))
    paying = checkout(orders, mini_shop.ani)
    clock.advance(PAY_S)
    order = result(paying)
    failing = refund(refunds, mini_shop.clerk, order["id"], idempotency_key="r-1")
    clock.advance(PAYMENT_TIMEOUT_S)
    first = error(failing)
    assert first.code == ErrorCode.UNAVAILABLE

    waiting = error(refund(refunds, mini_shop.clerk, order["id"], idempotency_key="r-1"))
    assert waiting.code == ErrorCode.CONFLICT, "within the timeout the first may still be asking"
    assert waiting.details == {"field": "idempotency_key", "reason": "in_progress"}
    # The first call's provider timeout has passed: its refund was recorded that long ago.
    sql.execute(db, "UPDATE refunds SET created_at = '2000-01-01 00:00:00'")
    again = error(refund(refunds, mini_shop.clerk, order["id"], idempotency_key="r-1"))

    assert again.code == ErrorCode.UNAVAILABLE, "the first result, not the stored success"
    assert again.details == first.details == {"reason": "provider", "refund_id": 1}
    assert len(refund_rows(db)) == 1 and stock(mini_shop.kopi) == 5, "applied once"
    assert len(broken.refunds) == 1, "the provider is not asked again"
    assert sql.one(db, "SELECT count(*) FROM audit_log WHERE action = 'clerk.refund'") == (1,)
    books_balance(db)
