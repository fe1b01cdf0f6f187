"""Settling pending orders (issue 14, item 11): a checkout whose last write was lost is
settled a moment later, one whose payment still runs here is left alone, and many are
settled a few at a time."""

from __future__ import annotations

from datetime import UTC, timedelta
from typing import Any

import pytest
from twisted.internet.defer import Deferred, fail
from twisted.internet.task import Clock

from db.models import Order, Product, User
from protocol.errors import ErrorCode
from server.dispatch import Identity
from server.events import EventHub
from server.services import settling
from server.services.order_jobs import begin_checkout
from server.services.settling import AT_ONCE, LOST_RETRY_S
from server.write_jobs import job_name, unavailable
from tests.services.inline_db import CURRENCY, InlineDatabase, Shop, error, result
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


class LosingDatabase(InlineDatabase):
    """Loses the first write of the job `lose`, and every write while `down`: answers
    `unavailable` without running it, as the SQLite link does for the jobs a dying writer
    held and those sent before the next one is ready."""

    def __init__(self, inline: InlineDatabase, lose: str) -> None:
        super().__init__(inline.db)
        self.lose: str | None = lose
        self.down = False

    def write(self, job: Any, *args: Any) -> Deferred[Any]:
        if self.down or job_name(job).endswith(f":{self.lose}"):
            self.lose = None
            return fail(unavailable("the database writer stopped"))
        return super().write(job, *args)


@pytest.mark.parametrize(
    ("payment", "job", "settled", "left"),
    [
        (CARD, "mark_paid", ("paid", "captured"), 3),
        (DECLINED, "mark_declined", ("cancelled", "declined"), 5),
    ],
)
def test_a_checkout_whose_last_write_was_lost_is_settled_a_moment_later(
    mini_shop: Shop,
    dbx: InlineDatabase,
    hub: EventHub,
    clock: Clock,
    payment: dict[str, str],
    job: str,
    settled: tuple[str, str],
    left: int,
) -> None:
    orders = order_service(LosingDatabase(dbx, job), hub, clock)
    fill_cart(dbx, mini_shop.ani, (mini_shop.kopi, 2))
    ani = watch(hub, mini_shop.ani)
    answer = checkout(orders, mini_shop.ani, payment=payment)
    clock.advance(PAY_S)

    assert error(answer).code == ErrorCode.UNAVAILABLE
    (order,) = Order.select()
    assert status(order.id) == ("pending", "pending"), "the write was lost"

    clock.advance(LOST_RETRY_S)  # the settler asks the provider ...
    clock.advance(PAY_S)  # ... which answers: the order is settled

    assert status(order.id) == settled
    assert stock(mini_shop.kopi) == left
    assert ani.of("order")[-1]["status"] == settled[0], "the owner is told"


def test_a_lost_write_is_settled_once_the_database_is_back(
    mini_shop: Shop, dbx: InlineDatabase, hub: EventHub, clock: Clock
) -> None:
    losing = LosingDatabase(dbx, "mark_paid")
    orders = order_service(losing, hub, clock)
    fill_cart(dbx, mini_shop.ani, (mini_shop.kopi, 2))
    answer = checkout(orders, mini_shop.ani)
    clock.advance(PAY_S)
    assert error(answer).code == ErrorCode.UNAVAILABLE
    losing.down = True

    clock.advance(LOST_RETRY_S)
    clock.advance(PAY_S)  # the first try's write finds the database away
    (order,) = Order.select()
    assert status(order.id) == ("pending", "pending")

    losing.down = False
    clock.advance(2 * LOST_RETRY_S)  # the second try comes twice as late ...
    clock.advance(PAY_S)
    assert status(order.id) == ("paid", "captured"), "... and settles it"


def test_an_order_whose_payment_runs_here_is_not_settled_behind_its_back(
    mini_shop: Shop, dbx: InlineDatabase, hub: EventHub, clock: Clock
) -> None:
    orders = order_service(dbx, hub, clock)
    fill_cart(dbx, mini_shop.ani, (mini_shop.kopi, 1))
    answer = checkout(orders, mini_shop.ani)

    sweep = orders.settle_pending(None)
    clock.advance(PAY_S)

    assert result(sweep) == 0, "its checkout decides"
    assert result(answer)["status"] == "paid"


def strand(dbx: InlineDatabase, count: int) -> list[int]:
    """`count` checkouts, of as many customers, stopped between their transactions: orders
    pending (a customer has one at a time)."""
    product = Product.create(
        sku="AIR-1", name="Air", price=3000, currency=CURRENCY, stock=count, initial_stock=count
    ).id
    begun = []
    for n in range(count):
        buyer = User.create(username=f"buyer{n}", password_hash="x", role="customer")
        fill_cart(dbx, Identity(buyer.id, buyer.username, "customer", session_id=0), (product, 1))
        job = (begin_checkout, buyer.id, f"k{n}", "p", "card", CURRENCY, "fake")
        begun.append(result(dbx.write(*job)))
    return [b["order"]["id"] for b in begun]


def pending() -> int:
    return Order.select().where(Order.status == "pending").count()


def test_many_pending_orders_are_settled_a_few_at_a_time(
    mini_shop: Shop, dbx: InlineDatabase, hub: EventHub, clock: Clock
) -> None:
    strand(dbx, 2 * AT_ONCE + 3)
    restarted = order_service(dbx, hub, clock)  # its gateway never saw them

    sweep = restarted.settle_pending(None)
    assert pending() == 2 * AT_ONCE + 3, "every lookup is waiting for the provider"
    clock.advance(PAY_S)
    assert pending() == AT_ONCE + 3, "AT_ONCE lookups at a time"
    clock.advance(PAY_S)
    clock.advance(PAY_S)
    assert result(sweep) == 2 * AT_ONCE + 3 and pending() == 0


def test_pending_orders_are_read_a_page_at_a_time(
    mini_shop: Shop, dbx: InlineDatabase, hub: EventHub, clock: Clock, monkeypatch: Any
) -> None:
    monkeypatch.setattr(settling, "PAGE", 4)
    strand(dbx, 10)
    restarted = order_service(dbx, hub, clock)
    reads = dbx.reads

    sweep = restarted.settle_pending(None)
    for _ in range(3):
        clock.advance(PAY_S)

    assert result(sweep) == 10 and pending() == 0
    assert dbx.reads - reads == 3, "pages of 4, 4 and 2 ids"


def test_after_a_writer_crash_only_orders_pending_from_before_it_are_settled(
    mini_shop: Shop, dbx: InlineDatabase, hub: EventHub, clock: Clock
) -> None:
    """An order begun since the new writer came back may be about to run here."""
    before, after = strand(dbx, 2)
    crash = Order.get_by_id(before).updated_at + timedelta(seconds=5)
    Order.update(updated_at=crash + timedelta(seconds=5)).where(Order.id == after).execute()
    clock.advance(crash.replace(tzinfo=UTC).timestamp())  # wall time, as the stamps are
    orders = order_service(dbx, hub, clock)

    settling_now = orders.checkouts.settle_after_writer_crash(clock.seconds())
    clock.advance(PAY_S)

    assert result(settling_now) == 1
    assert status(before) == ("cancelled", "declined")
    assert status(after) == ("pending", "pending")
