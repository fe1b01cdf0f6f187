"""`clerk.sale` step by step on a Clock: cash completed in one transaction with its change,
card and e-wallet charged outside it (pending meanwhile), declines recorded cancelled, the
clerk's idempotency keys, and what is refused with nothing recorded."""

from __future__ import annotations

import json

from twisted.internet.task import Clock

from db.models import AuditLog, IdempotencyKey, Order, Payment, Product, StockMovement
from protocol.codec import unpackb
from protocol.errors import ErrorCode
from protocol.ops import MAX_MONEY
from server.events import EventHub
from server.payments import FakeProvider
from server.services.cart import LINE_COST_RULE
from tests.services.inline_db import InlineDatabase, Shop, error, result
from tests.services.shopping import CARD, DECLINED, PAY_S, status, stock, watch
from tests.services.till import CASH, Till, another_clerk, audited, line


def test_a_cash_sale_completes_in_one_transaction_and_gives_the_change(
    mini_shop: Shop, dbx: InlineDatabase, hub: EventHub, clock: Clock
) -> None:
    till = Till(dbx, hub, clock)
    register = result(till.open(mini_shop.clerk))
    customer = watch(hub, mini_shop.ani, mini_shop.kopi, mini_shop.teh)
    writes = dbx.writes

    sold = result(
        till.sell(
            mini_shop.clerk,
            line(mini_shop.kopi, 2),
            {"sku": "TEH-1", "qty": 1},
            payment={"method": "cash", "tendered": 50_000},
        )
    )

    assert dbx.writes - writes == 1, "cash: one write transaction, no provider"
    assert sold["status"] == "completed" and sold["channel"] == "pos"
    assert sold["customer_id"] is None
    assert sold["total"] == 2 * 17500 + 9000 and sold["change_due"] == 50_000 - 44_000
    assert [(ln["product_id"], ln["qty"]) for ln in sold["lines"]] == [
        (mini_shop.kopi, 2),
        (mini_shop.teh, 1),
    ], "lines in the order given"
    assert sold["payment"] == {
        "method": "cash",
        "provider": "cash",
        "reference": None,
        "status": "captured",
    }
    stored = Order.get_by_id(sold["id"])
    assert (stored.status, stored.clerk_id, stored.register_id) == (
        "completed",
        mini_shop.clerk.user_id,
        register["id"],
    )
    assert status(sold["id"]) == ("completed", "captured")
    assert (stock(mini_shop.kopi), stock(mini_shop.teh)) == (3, 2)
    moved = StockMovement.select().where(StockMovement.order == sold["id"])
    assert sorted((m.product_id, m.kind, m.delta) for m in moved) == [
        (mini_shop.kopi, "sale", -2),
        (mini_shop.teh, "sale", -1),
    ]
    assert [s["stock"] for s in customer.of("stock")] == [3, 2], "stock pushed to subscribers"
    assert customer.of("order") == [], "a sale has no owner: no order event"
    assert audited(dbx, "clerk.sale") == [
        (
            mini_shop.clerk.user_id,
            f"order:{sold['id']}",
            {"total": 44_000, "method": "cash", "change_due": 6_000},
        )
    ]


def test_a_cash_sale_writes_its_rows_as_they_end_with_no_update_after(
    mini_shop: Shop, dbx: InlineDatabase, hub: EventHub, clock: Clock
) -> None:
    till = Till(dbx, hub, clock)
    result(till.open(mini_shop.clerk))
    statements: list[str] = []
    dbx.db.connection().set_trace_callback(statements.append)
    try:
        sold = result(
            till.sell(mini_shop.clerk, line(mini_shop.kopi, 1), payment=CASH | {"tendered": 20_000})
        )
    finally:
        dbx.db.connection().set_trace_callback(None)

    updated = [s.split()[1] for s in statements if s.startswith("UPDATE")]
    assert updated == ["products"], "the order, its payment and its key: inserted as they end"
    assert status(sold["id"]) == ("completed", "captured")
    key = IdempotencyKey.get(IdempotencyKey.order == sold["id"])
    assert key.response is not None and unpackb(key.response) == {
        "order_id": sold["id"],
        "change_due": 2_500,
    }


def test_cash_without_tendered_is_exactly_the_total(
    mini_shop: Shop, dbx: InlineDatabase, hub: EventHub, clock: Clock
) -> None:
    till = Till(dbx, hub, clock)
    result(till.open(mini_shop.clerk))

    sold = result(till.sell(mini_shop.clerk, line(mini_shop.teh)))

    assert sold["change_due"] == 0 and sold["status"] == "completed"


def test_too_little_cash_is_declined_and_nothing_is_recorded(
    mini_shop: Shop, dbx: InlineDatabase, hub: EventHub, clock: Clock
) -> None:
    till = Till(dbx, hub, clock)
    result(till.open(mini_shop.clerk))
    short = {"method": "cash", "tendered": 17_499}

    declined = error(till.sell(mini_shop.clerk, line(mini_shop.kopi), payment=short))

    assert declined.code == ErrorCode.PAYMENT_DECLINED
    assert declined.details == {"reason": "insufficient_cash"}
    assert not Order.select().exists() and not IdempotencyKey.select().exists()
    assert stock(mini_shop.kopi) == 5
    assert audited(dbx, "clerk.sale") == []
    enough = {"method": "cash", "tendered": 20_000}
    again = result(till.sell(mini_shop.clerk, line(mini_shop.kopi), payment=enough))
    assert again["change_due"] == 2_500, "the key stayed free"


def test_a_card_sale_is_pending_while_charged_then_completed(
    mini_shop: Shop, dbx: InlineDatabase, hub: EventHub, clock: Clock
) -> None:
    till = Till(dbx, hub, clock)
    result(till.open(mini_shop.clerk))
    writes = dbx.writes

    answer = till.sell(mini_shop.clerk, line(mini_shop.kopi, 2), payment=CARD)

    assert not answer.called, "the answer waits for the provider"
    (pending,) = Order.select()
    assert status(pending.id) == ("pending", "pending"), "begin: written pending"
    assert stock(mini_shop.kopi) == 3, "begin: stock taken before charging"

    clock.advance(PAY_S)

    sold = result(answer)
    assert sold["status"] == "completed" and "change_due" not in sold
    assert sold["payment"]["status"] == "captured" and sold["payment"]["provider"] == "fake"
    assert sold["payment"]["reference"]
    assert status(sold["id"]) == ("completed", "captured")
    assert dbx.writes - writes == 2, "begin, then mark completed: as a checkout"


def test_an_ewallet_sale_needs_a_token(
    mini_shop: Shop, dbx: InlineDatabase, hub: EventHub, clock: Clock
) -> None:
    till = Till(dbx, hub, clock)
    result(till.open(mini_shop.clerk))

    refused = error(till.sell(mini_shop.clerk, line(mini_shop.kopi), payment={"method": "ewallet"}))

    assert refused.code == ErrorCode.BAD_REQUEST
    assert refused.details == {"field": "payment.token", "rule": "required"}
    assert not Order.select().exists()


def test_a_declined_card_sale_is_recorded_cancelled_and_gives_the_stock_back(
    mini_shop: Shop, dbx: InlineDatabase, hub: EventHub, clock: Clock
) -> None:
    till = Till(dbx, hub, clock)
    result(till.open(mini_shop.clerk))

    answer = till.sell(mini_shop.clerk, line(mini_shop.kopi, 2), payment=DECLINED)
    clock.advance(PAY_S)

    declined = error(answer)
    assert declined.code == ErrorCode.PAYMENT_DECLINED
    assert declined.details["reason"] == "card declined by the issuer"
    order = Order.get_by_id(declined.details["order_id"])
    assert (order.status, order.cancel_reason, order.channel) == (
        "cancelled",
        "payment_declined",
        "pos",
    )
    assert Payment.get(Payment.order == order.id).status == "declined"
    assert stock(mini_shop.kopi) == 5
    assert not IdempotencyKey.select().exists(), "the key is free for another card"
    entries = AuditLog.select().where(AuditLog.target == f"order:{order.id}").order_by(AuditLog.id)
    sold = {"total": order.total, "method": "card"}  # the sale, then why it was cancelled
    assert [(e.action, e.user_id, json.loads(e.details)) for e in entries] == [
        ("clerk.sale", mini_shop.clerk.user_id, sold),
        ("clerk.sale.cancelled", mini_shop.clerk.user_id, {**sold, "reason": "payment_declined"}),
    ]
    retried = till.sell(mini_shop.clerk, line(mini_shop.kopi, 2), payment=CARD)
    clock.advance(PAY_S)
    assert result(retried)["status"] == "completed"


def test_the_same_key_gives_the_same_sale_and_change_without_selling_again(
    mini_shop: Shop, dbx: InlineDatabase, hub: EventHub, clock: Clock
) -> None:
    till = Till(dbx, hub, clock)
    result(till.open(mini_shop.clerk))
    paid = {"method": "cash", "tendered": 20_000}
    first = result(till.sell(mini_shop.clerk, line(mini_shop.kopi), payment=paid))

    again = result(till.sell(mini_shop.clerk, line(mini_shop.kopi), payment=paid))

    assert again == first and again["change_due"] == 2_500
    assert stock(mini_shop.kopi) == 4 and Order.select().count() == 1
    other = error(till.sell(mini_shop.clerk, line(mini_shop.kopi, 2), payment=paid))
    assert other.code == ErrorCode.CONFLICT and other.details == {"field": "idempotency_key"}
    by_sku = error(till.sell(mini_shop.clerk, {"sku": "KOPI-1", "qty": 1}, payment=paid))
    assert by_sku.code == ErrorCode.CONFLICT, "the fingerprint is the arguments as given"
    result(till.close(mini_shop.clerk, 117_500))
    after_close = result(till.sell(mini_shop.clerk, line(mini_shop.kopi), payment=paid))
    assert after_close == first, "a stored sale is answered even with the register closed"


def test_a_retry_while_the_card_is_charged_waits_and_shares_the_outcome(
    mini_shop: Shop, dbx: InlineDatabase, hub: EventHub, clock: Clock
) -> None:
    till = Till(dbx, hub, clock)
    result(till.open(mini_shop.clerk))

    first = till.sell(mini_shop.clerk, line(mini_shop.teh), payment=CARD)
    retry = till.sell(mini_shop.clerk, line(mini_shop.teh), payment=CARD)
    clash = error(till.sell(mini_shop.clerk, line(mini_shop.kopi), payment=CARD))
    assert not retry.called and till.orders.busy
    clock.advance(PAY_S)

    assert result(retry) == result(first)
    assert clash.code == ErrorCode.CONFLICT
    assert Order.select().count() == 1 and stock(mini_shop.teh) == 2
    assert not till.orders.busy


def test_keys_belong_to_the_clerk(
    mini_shop: Shop, dbx: InlineDatabase, hub: EventHub, clock: Clock
) -> None:
    till = Till(dbx, hub, clock)
    dewi = another_clerk()
    result(till.open(mini_shop.clerk))
    result(till.open(dewi))

    mine = result(till.sell(mini_shop.clerk, line(mini_shop.teh)))
    theirs = result(till.sell(dewi, line(mini_shop.teh)))

    assert mine["id"] != theirs["id"] and stock(mini_shop.teh) == 1


def test_a_sale_needs_an_open_register(
    mini_shop: Shop, dbx: InlineDatabase, hub: EventHub, clock: Clock
) -> None:
    till = Till(dbx, hub, clock)

    refused = error(till.sell(mini_shop.clerk, line(mini_shop.kopi)))

    assert refused.code == ErrorCode.INVALID_STATE
    assert refused.details == {"reason": "no_open_register"}
    result(till.open(mini_shop.clerk))
    result(till.close(mini_shop.clerk, 100_000))
    closed = error(till.sell(mini_shop.clerk, line(mini_shop.kopi)))
    assert closed.details == {"reason": "no_open_register"}, "a closed register sells nothing"
    assert not Order.select().exists() and stock(mini_shop.kopi) == 5


def test_lines_are_refused_with_the_line_that_is_wrong_and_nothing_is_sold(
    mini_shop: Shop, dbx: InlineDatabase, hub: EventHub, clock: Clock
) -> None:
    till = Till(dbx, hub, clock)
    result(till.open(mini_shop.clerk))
    Product.update(archived=True).where(Product.id == mini_shop.teh).execute()

    repeated = error(till.sell(mini_shop.clerk, line(mini_shop.kopi), {"sku": "KOPI-1", "qty": 2}))
    unknown = error(till.sell(mini_shop.clerk, line(mini_shop.kopi), {"sku": "NOPE", "qty": 1}))
    archived = error(till.sell(mini_shop.clerk, line(mini_shop.kopi), line(mini_shop.teh)))
    short = error(till.sell(mini_shop.clerk, line(mini_shop.kopi, 6)))

    assert repeated.code == ErrorCode.BAD_REQUEST
    assert repeated.details == {"field": "lines[1]", "rule": "repeats a product"}
    assert unknown.code == ErrorCode.NOT_FOUND
    assert unknown.details == {"kind": "product", "id": "NOPE"}
    assert archived.details == {"kind": "product", "id": mini_shop.teh}
    assert short.code == ErrorCode.OUT_OF_STOCK
    assert short.details == {"product_id": mini_shop.kopi, "requested": 6, "available": 5}
    assert not Order.select().exists() and not IdempotencyKey.select().exists()
    assert stock(mini_shop.kopi) == 5 and not StockMovement.select().exists()


def test_a_line_costing_over_10_12_is_refused_and_nothing_is_sold(
    mini_shop: Shop, dbx: InlineDatabase, hub: EventHub, clock: Clock
) -> None:
    """An order's total must stay a number every client reads exactly (under 2^53), and a
    till's or a day's sums within 64 bits: a line's cost is bounded by MAX_MONEY."""
    till = Till(dbx, hub, clock)
    result(till.open(mini_shop.clerk))
    Product.update(price=MAX_MONEY // 2 + 1).where(Product.id == mini_shop.kopi).execute()

    dear = error(till.sell(mini_shop.clerk, line(mini_shop.kopi, 2)))

    assert dear.code == ErrorCode.BAD_REQUEST
    assert dear.details == {"field": "qty", "rule": LINE_COST_RULE, "product_id": mini_shop.kopi}
    assert not Order.select().exists() and not IdempotencyKey.select().exists()
    assert stock(mini_shop.kopi) == 5 and not StockMovement.select().exists()
    assert result(till.sell(mini_shop.clerk, line(mini_shop.kopi, 1)))["total"] <= MAX_MONEY


def test_a_card_sale_cut_by_a_crash_is_completed_by_the_sweep(
    mini_shop: Shop, dbx: InlineDatabase, hub: EventHub, clock: Clock
) -> None:
    gateway = FakeProvider(Clock(), PAY_S)  # its clock never moves: the server died
    dead = Till(dbx, hub, gateway.clock, gateway)
    result(dead.open(mini_shop.clerk))
    assert not dead.sell(mini_shop.clerk, line(mini_shop.kopi), payment=CARD).called
    (order,) = Order.select()
    same_gateway = FakeProvider(clock, PAY_S)
    same_gateway.charges = gateway.charges  # the gateway outlived the server
    restarted = Till(dbx, hub, clock, same_gateway)

    settling = restarted.orders.settle_pending(None)
    clock.advance(PAY_S)

    assert result(settling) == 1
    assert status(order.id) == ("completed", "captured"), "a sale settles completed, not paid"


def test_cash_is_never_pending_so_the_sweep_leaves_it_alone(
    mini_shop: Shop, dbx: InlineDatabase, hub: EventHub, clock: Clock
) -> None:
    till = Till(dbx, hub, clock)
    result(till.open(mini_shop.clerk))
    sold = result(till.sell(mini_shop.clerk, line(mini_shop.kopi), payment=CASH))

    assert result(till.orders.settle_pending(None)) == 0
    assert status(sold["id"]) == ("completed", "captured")
