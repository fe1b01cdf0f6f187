"""The declined-payment limit of an account: refused for a while after too many declines,
only declines counted, and a stored checkout still answered when none is left."""

from __future__ import annotations

from twisted.internet.task import Clock

from db.models import Order
from protocol.errors import ErrorCode
from server.events import EventHub
from tests.services.inline_db import InlineDatabase, Shop, error, result
from tests.services.shopping import CARD, DECLINED, PAY_S, checkout, fill_cart, order_service


def test_an_account_declined_too_often_is_refused_for_a_while_and_then_pays(
    mini_shop: Shop, dbx: InlineDatabase, hub: EventHub, clock: Clock
) -> None:
    orders = order_service(dbx, hub, clock, declines_per_hour=3)
    fill_cart(dbx, mini_shop.ani, (mini_shop.kopi, 1))
    for n in range(3):  # card testing: card after card declined
        declined = checkout(orders, mini_shop.ani, key=f"try-{n}", payment=DECLINED)
        clock.advance(PAY_S)
        assert error(declined).code == ErrorCode.PAYMENT_DECLINED

    refused = error(checkout(orders, mini_shop.ani, key="try-3", payment=CARD))
    assert refused.code == ErrorCode.RATE_LIMITED and refused.details["reason"] == "declines"
    assert Order.select().count() == 3, "refused before any order is written"
    fill_cart(dbx, mini_shop.budi, (mini_shop.teh, 1))
    other = checkout(orders, mini_shop.budi, key="budi-1", payment=DECLINED)  # not budi's
    clock.advance(PAY_S)
    assert error(other).code == ErrorCode.PAYMENT_DECLINED

    clock.advance(refused.details["retry_after_ms"] / 1000)  # an hour / 3: one more try
    paid = checkout(orders, mini_shop.ani, key="try-3", payment=CARD)
    clock.advance(PAY_S)
    assert result(paid)["status"] == "paid"


def test_a_paid_checkout_repeated_when_the_account_is_out_of_declines_gets_its_order(
    mini_shop: Shop, dbx: InlineDatabase, hub: EventHub, clock: Clock
) -> None:
    """Its first answer lost, the client sends the paid checkout again, after card after
    card was declined: the repeat still answers with the order (PROTOCOL.md 12, step 1),
    and a new checkout is refused."""
    orders = order_service(dbx, hub, clock, declines_per_hour=2)
    fill_cart(dbx, mini_shop.ani, (mini_shop.kopi, 1))
    paid = checkout(orders, mini_shop.ani, key="paid")
    clock.advance(PAY_S)
    first = result(paid)
    fill_cart(dbx, mini_shop.ani, (mini_shop.kopi, 1))
    for n in range(2):
        declined = checkout(orders, mini_shop.ani, key=f"declined-{n}", payment=DECLINED)
        clock.advance(PAY_S)
        assert error(declined).code == ErrorCode.PAYMENT_DECLINED

    again = result(checkout(orders, mini_shop.ani, key="paid"))
    assert (again["id"], again["status"]) == (first["id"], "paid")
    refused = error(checkout(orders, mini_shop.ani, key="new", payment=CARD))
    assert refused.code == ErrorCode.RATE_LIMITED and refused.details["reason"] == "declines"
    reused = error(checkout(orders, mini_shop.ani, key="paid", payment=DECLINED))
    assert reused.code == ErrorCode.CONFLICT, "the key with other arguments: as always"
    assert Order.select().count() == 3, "nothing written by the three"


def test_only_declines_count_against_the_limit_and_a_waiting_retry_counts_none(
    mini_shop: Shop, dbx: InlineDatabase, hub: EventHub, clock: Clock
) -> None:
    orders = order_service(dbx, hub, clock, declines_per_hour=2)
    for n in range(3):  # paid: each gives its token back
        fill_cart(dbx, mini_shop.ani, (mini_shop.kopi, 1))
        paid = checkout(orders, mini_shop.ani, key=f"paid-{n}")
        clock.advance(PAY_S)
        assert result(paid)["status"] == "paid"
    fill_cart(dbx, mini_shop.ani, (mini_shop.kopi, 1))
    first = checkout(orders, mini_shop.ani, key="declined-1", payment=DECLINED)
    retry = checkout(orders, mini_shop.ani, key="declined-1", payment=DECLINED)  # waits for it
    clock.advance(PAY_S)
    assert error(first).code == error(retry).code == ErrorCode.PAYMENT_DECLINED
    second = checkout(orders, mini_shop.ani, key="declined-2", payment=DECLINED)
    clock.advance(PAY_S)
    assert error(second).code == ErrorCode.PAYMENT_DECLINED, "one decline counted, not two"

    refused = error(checkout(orders, mini_shop.ani, key="declined-3", payment=DECLINED))
    assert refused.code == ErrorCode.RATE_LIMITED and refused.details["reason"] == "declines"
