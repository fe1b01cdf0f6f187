"""The till's durable queue of offline sales, without a terminal or a server: keys and
receipt numbers given once (also across a reopen, as after a crash), oldest first, marked
sent or refused for good, a lost answer sent again with the same key."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from client_tui.offline_queue import (
    OfflineQueue,
    PrefixError,
    QueuedSale,
    SaleState,
    check_prefix,
    default_prefix,
    send_queued,
)
from protocol.client import ConnectionLost
from protocol.errors import Conflict, Unauthenticated

OWNER = "kasir@127.0.0.1:7411"
LINES = [{"product_id": 7, "qty": 2, "unit_price": 1500}]


@pytest.fixture
def queue(tmp_path: Path) -> OfflineQueue:
    return OfflineQueue(tmp_path / "offline.db", "K1")


def test_a_sale_gets_a_key_a_receipt_and_its_total(queue: OfflineQueue) -> None:
    at = datetime(2026, 11, 30, 8, 15, 0, 123456, tzinfo=UTC)
    sale = queue.ring_up(OWNER, LINES, tendered=5000, at=at)
    assert sale.receipt == "K1-000001"
    assert sale.total == 3000 and sale.payment == {"method": "cash", "tendered": 5000}
    receipt = sale.order({7: "Kopi"})
    assert (receipt["change_due"], receipt["lines"][0]["name"]) == (2000, "Kopi")
    assert queue.queued(OWNER) == [sale]
    assert sale.arguments()["offline_at"] == at  # microseconds kept: the same fingerprint


def test_receipts_count_up_and_keys_differ(queue: OfflineQueue) -> None:
    sales = [queue.ring_up(OWNER, LINES) for _ in range(3)]
    assert [s.receipt for s in sales] == ["K1-000001", "K1-000002", "K1-000003"]
    assert len({s.idempotency_key for s in sales}) == 3


def test_the_queue_and_the_counter_survive_a_reopen(tmp_path: Path) -> None:
    """What a restart after a kill sees: the file as the last commit left it."""
    path = tmp_path / "offline.db"
    first = OfflineQueue(path, "K1")
    kept = [first.ring_up(OWNER, LINES) for _ in range(2)]
    first.mark_sent(kept[0].idempotency_key, 41)
    # no close(): a killed app does not close its database
    again = OfflineQueue(path, "K1")
    assert again.queued(OWNER) == [kept[1]]
    assert again.ring_up(OWNER, LINES).receipt == "K1-000003"


def test_a_commit_is_durable_before_ring_up_returns(queue: OfflineQueue) -> None:
    """Another connection (another process) sees the sale at once: it is committed."""
    sale = queue.ring_up(OWNER, LINES)
    other = sqlite3.connect(queue.path)
    row = other.execute("SELECT receipt, state FROM sales").fetchone()
    assert row == (sale.receipt, "queued")
    assert other.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert queue._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_each_prefix_counts_on_its_own(tmp_path: Path) -> None:
    path = tmp_path / "offline.db"
    OfflineQueue(path, "K1").ring_up(OWNER, LINES)
    assert OfflineQueue(path, "K2").ring_up(OWNER, LINES).receipt == "K2-000001"


def test_a_clerks_queue_is_their_own(queue: OfflineQueue) -> None:
    queue.ring_up(OWNER, LINES)
    assert queue.queued("other@127.0.0.1:7411") == []
    assert queue.count_queued(OWNER) == 1


@pytest.mark.parametrize("prefix", ["", "k1", "K-1", "A" * 17, "K 1"])
def test_a_bad_prefix_is_refused(prefix: str, tmp_path: Path) -> None:
    with pytest.raises(PrefixError, match="1 to 16 capital letters or digits"):
        OfflineQueue(tmp_path / "offline.db", prefix)


def test_the_default_prefix_comes_from_the_host_name() -> None:
    assert default_prefix("kasir-1.toko.lan") == "KASIR1"
    assert default_prefix("---") == "TILL"
    assert check_prefix(default_prefix("a" * 40)) == "A" * 16


def test_short_cash_and_empty_sales_are_refused(queue: OfflineQueue) -> None:
    with pytest.raises(ValueError, match="less than the total"):
        queue.ring_up(OWNER, LINES, tendered=2999)
    with pytest.raises(ValueError, match="at least one line"):
        queue.ring_up(OWNER, [])
    assert queue.queued(OWNER) == []
    assert queue.ring_up(OWNER, LINES).receipt == "K1-000001"  # no number was used up


class FakeServer:
    """Records each send; fails the n-th one as told."""

    def __init__(self, failures: dict[int, BaseException] | None = None) -> None:
        self.sent: list[QueuedSale] = []
        self.failures = failures or {}
        self.orders: dict[str, int] = {}

    async def send(self, sale: QueuedSale) -> dict[str, Any]:
        self.sent.append(sale)
        if (failure := self.failures.pop(len(self.sent), None)) is not None:
            raise failure
        order_id = self.orders.setdefault(sale.idempotency_key, 100 + len(self.orders))
        return {"id": order_id, "receipt": sale.receipt}


async def test_sending_goes_oldest_first_and_marks_each_sent(queue: OfflineQueue) -> None:
    sales = [queue.ring_up(OWNER, LINES) for _ in range(3)]
    server = FakeServer()
    sent = await send_queued(queue, OWNER, server.send)
    assert [s.receipt for s in server.sent] == [s.receipt for s in sales]
    assert sent.stopped is None and len(sent.recorded) == 3
    assert queue.queued(OWNER) == []
    assert [queue.sale(s.idempotency_key).order_id for s in sales] == [100, 101, 102]  # type: ignore[union-attr]
    assert (await send_queued(queue, OWNER, server.send)).recorded == []  # nothing twice


async def test_a_lost_answer_is_sent_again_with_the_same_key(queue: OfflineQueue) -> None:
    sales = [queue.ring_up(OWNER, LINES) for _ in range(2)]
    server = FakeServer({2: ConnectionLost("clerk.sale")})
    first = await send_queued(queue, OWNER, server.send)
    assert isinstance(first.stopped, ConnectionLost) and len(first.recorded) == 1
    assert queue.queued(OWNER) == [sales[1]]
    second = await send_queued(queue, OWNER, server.send)
    assert second.stopped is None
    assert [s.idempotency_key for s in server.sent] == [
        sales[0].idempotency_key,
        sales[1].idempotency_key,
        sales[1].idempotency_key,
    ]
    assert server.sent[1].arguments() == server.sent[2].arguments()


async def test_a_definite_refusal_is_kept_and_the_rest_go_on(queue: OfflineQueue) -> None:
    sales = [queue.ring_up(OWNER, LINES) for _ in range(2)]
    server = FakeServer({1: Conflict("receipt taken", {"field": "receipt"})})
    sent = await send_queued(queue, OWNER, server.send)
    assert [s.receipt for s in sent.refused] == [sales[0].receipt] and len(sent.recorded) == 1
    assert sent.refused[0].problem == "receipt taken"
    refused = queue.refused(OWNER)
    assert refused[0].state == SaleState.REFUSED and "receipt taken" in (refused[0].problem or "")
    assert queue.queued(OWNER) == []


async def test_a_refused_sale_is_dismissed_once_and_kept_in_the_file(
    queue: OfflineQueue,
) -> None:
    refused, sent = (queue.ring_up(OWNER, LINES) for _ in range(2))
    server = FakeServer({1: Conflict("receipt taken", {"field": "receipt"})})
    await send_queued(queue, OWNER, server.send)
    assert queue.count_refused(OWNER) == 1 and queue.count_refused("other@x:1") == 0
    assert not queue.dismiss_refused("other@x:1", refused.idempotency_key), "not theirs"
    assert not queue.dismiss_refused(OWNER, sent.idempotency_key), "sent, not refused"
    assert queue.dismiss_refused(OWNER, refused.idempotency_key)
    assert not queue.dismiss_refused(OWNER, refused.idempotency_key), "once"
    assert queue.refused(OWNER) == [] and queue.count_refused(OWNER) == 0
    kept = queue.sale(refused.idempotency_key)
    assert kept is not None and kept.state == SaleState.DISMISSED
    assert "receipt taken" in (kept.problem or "")


@pytest.mark.parametrize(
    "error",
    [
        Conflict("still running", {"field": "idempotency_key", "reason": "in_progress"}),
        Unauthenticated("signed out"),
        TimeoutError(),
    ],
)
async def test_a_doubtful_answer_stops_and_keeps_the_sale(
    queue: OfflineQueue, error: BaseException
) -> None:
    sale = queue.ring_up(OWNER, LINES)
    sent = await send_queued(queue, OWNER, FakeServer({1: error}).send)
    assert sent.stopped is error and queue.queued(OWNER) == [sale]


def test_products_last_known_are_found_by_sku_then_name(queue: OfflineQueue) -> None:
    products = [
        {"id": 1, "sku": "KOPI-1", "name": "Kopi Tubruk", "price": 500, "stock": 4},
        {"id": 2, "sku": "TEH-1", "name": "Teh Manis", "price": 300, "stock": 0},
    ]
    queue.remember_products(OWNER, products)
    queue.remember_stock(OWNER, {1: 3})
    [kopi] = queue.known_products(OWNER, "KOPI-1")
    assert (kopi["price"], kopi["stock"], kopi["last_known"]) == (500, 3, True)
    assert [p["id"] for p in queue.known_products(OWNER, "teh")] == [2]
    assert queue.known_products("other@x:1", "KOPI-1") == []


def test_a_sale_lowers_the_last_known_stock_never_below_zero(queue: OfflineQueue) -> None:
    queue.remember_products(
        OWNER,
        [
            {"id": 7, "sku": "MIE-1", "name": "Mie", "price": 1500, "stock": 3},
            {"id": 8, "sku": "TEH-1", "name": "Teh", "price": 300, "stock": 5},
        ],
    )
    queue.remember_products(
        "other@x:1", [{"id": 7, "sku": "MIE-1", "name": "Mie", "price": 1, "stock": 3}]
    )
    queue.ring_up(OWNER, LINES)  # 2 of product 7
    assert [p["stock"] for p in queue.known_products(OWNER, "MIE-1")] == [1]
    queue.ring_up(OWNER, LINES)
    assert [p["stock"] for p in queue.known_products(OWNER, "MIE-1")] == [0]
    assert [p["stock"] for p in queue.known_products(OWNER, "TEH-1")] == [5]
    assert [p["stock"] for p in queue.known_products("other@x:1", "MIE-1")] == [3]
    assert queue.product_names(OWNER) == {7: "Mie", 8: "Teh"}


def test_the_profile_is_kept(queue: OfflineQueue) -> None:
    assert queue.profile(OWNER) is None
    queue.remember_profile(OWNER, {"shop": {"name": "Toko"}})
    assert queue.profile(OWNER) == {"shop": {"name": "Toko"}}
