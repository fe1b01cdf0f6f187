"""The client's parts that need no terminal: money, stock levels, settings, the push
bridge's batching, the subscription watch, error texts, the retry countdown."""

from __future__ import annotations

import asyncio
import errno
import json
import socket
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from textual.message import Message

from client_tui.bridge import PushBridge
from client_tui.cartedit import PendingQuantities
from client_tui.connection import Target
from client_tui.errors import describe, too_many, unreachable
from client_tui.linkstate import RetryClock
from client_tui.messages import (
    ConnectionChanged,
    OrderChanged,
    PushesLost,
    ServerDraining,
    SessionEnded,
    StockChanged,
)
from client_tui.money import Money
from client_tui.paths import config_dir, data_dir, write_private
from client_tui.settings import Settings
from client_tui.stock import Level, StockBook, availability, renewed, shortfall
from client_tui.watch import StockWatch
from protocol.client import ConnectionLost, Push, State
from protocol.errors import OutOfStock, PaymentDeclined, RateLimited, Unauthenticated
from protocol.rules import MAX_QTY


@pytest.mark.parametrize(
    ("currency", "exponent", "amount", "text"),
    [
        ("IDR", 2, 1750000, "Rp 17.500,00"),
        ("IDR", 2, 5, "Rp 0,05"),
        ("USD", 2, 123456789, "$1,234,567.89"),
        ("JPY", 0, 1500, "¥1,500"),
        ("XYZ", 3, -1234, "-XYZ 1.234"),
    ],
)
def test_money_is_formatted_with_integers_only(currency, exponent, amount, text):
    assert Money(currency, exponent).format(amount) == text


@pytest.mark.parametrize(
    ("currency", "exponent", "amount", "text"),
    [
        ("IDR", 2, 425050, "4.250,50"),
        ("IDR", 2, 125000050, "1.250.000,50"),
        ("USD", 2, 5, "0.05"),
        ("JPY", 0, 1500, "1,500"),
    ],
)
def test_money_shown_without_its_symbol_in_a_field_is_read_back(currency, exponent, amount, text):
    money = Money(currency, exponent)
    assert money.format(amount, symbol=False) == text
    assert money.parse(text) == amount


def test_stock_book_keeps_the_newest_version_unless_replaced():
    book = StockBook()
    assert book.apply({1: Level(5, 3)}) == {1: Level(5, 3)}
    assert book.apply({1: Level(9, 2)}) == {}  # older: ignored
    assert book.apply({1: Level(5, 4)}) == {}  # newer, same stock: nothing to redraw
    assert book.get(1) == Level(5, 4)
    assert book.apply({1: Level(7, 1)}, replace=True) == {1: Level(7, 1)}  # a fresh snapshot
    book.seed([{"id": 2, "stock": 3, "version": 1}])
    assert book.stock(2, default=99) == 3 and book.stock(3, default=99) == 99


def test_a_newer_version_with_the_same_stock_is_a_product_to_read_again():
    book = StockBook()
    book.apply({1: Level(5, 3), 2: Level(4, 1)})
    levels = {1: Level(5, 4), 2: Level(3, 2), 3: Level(9, 1), 4: Level(5, 3)}
    assert renewed(book, levels) == [1]  # 2 moved stock, 3 is unknown, 4 not newer


def test_stock_reads_in_words():
    assert [availability(n) for n in (0, 1, 5, 6)] == [
        "sold out",
        "only 1 left",
        "only 5 left",
        "6 in stock",
    ]
    assert [shortfall(2, n) for n in (0, 1, 2)] == ["sold out", "only 1 left", ""]


def test_server_addresses():
    base = Target("127.0.0.1", 7411)
    assert base.with_address("shop.example:9000") == Target("shop.example", 9000)
    assert base.with_address("shop.example") == Target("shop.example", 7411)
    assert base.with_address("[::1]:8000") == Target("::1", 8000)
    assert Target("::1", 8000).address == "[::1]:8000"
    with pytest.raises(ValueError):
        base.with_address("shop:http")


def test_files_go_to_the_xdg_dirs(home: Path):
    assert config_dir() == home / "config" / "warung"
    assert data_dir() == home / "data" / "warung"


def test_settings_remember_the_server_and_user_and_keep_tokens_private(home: Path):
    settings = Settings()
    target = Target("shop.example", 9000, tls=True)
    assert settings.remembered().target is None
    settings.remember(target, "siti")
    assert settings.remembered().target == target and settings.remembered().user == "siti"
    settings.keep_session(target, "siti", "tok")
    path = home / "config" / "warung" / "session.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    kept = settings.kept_session(target)
    assert kept is not None and kept.token == "tok"
    assert settings.kept_session(Target("elsewhere", 9000, tls=True)) is None
    settings.forget_session()
    assert settings.kept_session(target) is None
    (home / "config" / "warung" / "client.json").write_text("{not json")
    assert settings.remembered().user == ""


def test_private_files_replace_whole(tmp_path: Path):
    path = tmp_path / "deep" / "secret"
    write_private(path, "one")
    write_private(path, "two")
    assert path.read_text() == "two" and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["secret"]


def test_retry_countdown():
    clock = RetryClock()
    assert clock.remaining(None, now=0.0) is None
    assert clock.remaining(3.2, now=10.0) == 3.2
    assert clock.remaining(3.2, now=11.0) == pytest.approx(2.2)
    assert clock.remaining(6.4, now=12.0) == 6.4  # the next, longer wait
    assert clock.remaining(6.4, now=19.0) == pytest.approx(5.8)  # the same wait again


def test_errors_say_what_to_do():
    assert "Lower the quantity to 2" in describe(OutOfStock("x", {"available": 2}))
    assert "sold out" in describe(OutOfStock("x", {"available": 0}))
    declined = describe(PaymentDeclined("declined", {"reason": "card declined"}))
    assert "card declined" in declined and "Nothing was charged" in declined
    assert "6-digit code" in describe(Unauthenticated("code", {"totp_required": True}))
    assert "reconnects by itself" in describe(ConnectionLost("cart.add"))
    declines = RateLimited("x", {"reason": "declines", "retry_after_ms": 1_200_001})
    assert "declined payments on this account. Try again in 21 min" in describe(declines)


def test_a_refusal_for_stock_counts_what_the_cart_holds():
    refused = OutOfStock("x", {"product_id": 7, "requested": 4, "available": 3})
    assert too_many(refused, 0) == describe(refused)  # none in the cart yet
    assert too_many(refused, 3) == "Your cart holds the last 3 already: there are no more to add."
    assert too_many(refused, 1) == "Only 3 left and your cart holds 1: add 2 or fewer."
    assert too_many(refused, 5).startswith("Only 3 left, fewer than the 5 in your cart")
    one = OutOfStock("x", {"product_id": 7, "requested": 2, "available": 1})
    assert too_many(one, 1) == "Your cart holds the last one already: there are no more to add."
    sold_out = OutOfStock("x", {"product_id": 7, "requested": 2, "available": 0})
    assert "sold out" in too_many(sold_out, 1)


def test_an_unreachable_server_is_said_in_words():
    refused = ConnectionRefusedError(errno.ECONNREFUSED, "Connect call failed ('::1', 9)")
    assert unreachable(refused, "shop:9").startswith("Nothing answers at shop:9. Check that")
    several = OSError("Multiple exceptions: [Errno 111] Connect call failed ('::1', 9)")
    assert unreachable(several, "localhost:9").startswith("Nothing answers at localhost:9.")
    unknown = socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    assert "host name in shpo:9: check its spelling" in unreachable(unknown, "shpo:9")
    down = OSError(errno.ENETUNREACH, "Network is unreachable")
    assert unreachable(down, "10.0.0.9:7411") == (
        "Cannot reach 10.0.0.9:7411 (network is unreachable). Check the address and the "
        "network, then try again."
    )
    assert "Connect call failed" not in describe(refused, "shop:9")


def test_cart_quantities_pressed_faster_than_answers():
    pending = PendingQuantities()
    assert pending.change(7, confirmed=13, delta=-1) == 12
    assert pending.change(7, confirmed=13, delta=-1) == 11  # from the shown, not the server's
    assert pending.next_to_send(7) == 11
    assert pending.change(7, confirmed=13, delta=-1) == 10
    assert pending.next_to_send(7) is None  # one call in flight per line
    pending.answered(7, ok=True)  # 11 answered; 10 still wanted
    assert pending.shown(7, confirmed=11) == 10 and pending.next_to_send(7) == 10
    pending.answered(7, ok=True)
    assert not pending.pending(7) and pending.shown(7, confirmed=10) == 10
    assert pending.want(8, 100_000) == MAX_QTY and pending.change(8, 1, -MAX_QTY - 5) == 0
    assert pending.next_to_send(8) == 0
    pending.answered(8, ok=False)  # refused: the server's cart is shown as it is
    assert pending.products() == []


class FakeClient:
    """Just enough of AsyncClient for the bridge and the watch."""

    def __init__(self) -> None:
        self.events: list[Callable[[Push], object]] = []
        self.states: list[Callable[[State], object]] = []
        self.calls: list[tuple[str, list[int]]] = []

    def on_event(self, callback):
        self.events.append(callback)

    def on_state(self, callback):
        self.states.append(callback)

    def push(self, event: str, seq: int, data: dict) -> None:
        for callback in self.events:
            callback(Push(event, seq, data))

    async def subscribe_stock(self, ids):
        self.calls.append(("subscribe", ids))
        return [{"product_id": i, "stock": 10, "version": 1} for i in ids]

    async def unsubscribe_stock(self, ids):
        self.calls.append(("unsubscribe", ids))


async def test_a_burst_of_stock_pushes_becomes_one_message():
    client = FakeClient()
    posted: list[Message] = []
    PushBridge(client, posted.append, flush_s=0.05)  # type: ignore[arg-type]  # a stand-in
    for seq in range(1, 501):
        client.push("stock", seq, {"product_id": seq % 5, "stock": seq, "version": seq})
    assert posted == []
    deadline = asyncio.get_running_loop().time() + 5
    while not posted:  # the flush timer fires once for the whole burst
        assert asyncio.get_running_loop().time() < deadline, "no flush"
        await asyncio.sleep(0.01)
    assert len(posted) == 1 and isinstance(posted[0], StockChanged)
    assert posted[0].levels == {i: Level(495 + i, 495 + i) for i in range(5)} | {0: Level(500, 500)}
    client.push("order", 501, {"id": 7, "status": "paid"})
    client.push("stock", 503, {"product_id": 1, "stock": 1, "version": 999})  # 502 lost
    client.push("server.shutdown", 504, {"reason": "draining"})
    client.push("stock.snapshot", 0, {"snapshot": [{"product_id": 1, "stock": 4, "version": 2}]})
    for callback in client.states:
        callback(State.RECONNECTING)
    kinds = [type(m) for m in posted[1:]]
    assert kinds == [
        OrderChanged,
        PushesLost,
        ServerDraining,
        StockChanged,  # the pending push, flushed before the snapshot
        StockChanged,
        ConnectionChanged,
    ]
    snapshot = posted[-2]
    assert isinstance(snapshot, StockChanged)
    assert snapshot.replace and snapshot.levels == {1: Level(4, 2)}
    client.push("session.ended", 0, {"message": "session ended"})
    assert isinstance(posted[-1], SessionEnded)


async def test_the_watch_subscribes_what_views_show_and_drops_the_rest():
    client = FakeClient()
    seen: list[dict[int, Level]] = []
    watch = StockWatch(client, seen.append)  # type: ignore[arg-type]  # a stand-in
    await watch.want("catalog", [1, 2, 3])
    await watch.want("cart", [3, 4])
    await watch.want("catalog", [2])
    assert client.calls == [
        ("subscribe", [1, 2, 3]),
        ("subscribe", [4]),
        ("unsubscribe", [1]),
    ]
    assert watch.subscribed == {2, 3, 4}
    assert seen[0] == {1: Level(10, 1), 2: Level(10, 1), 3: Level(10, 1)}
    await watch.sync(fresh=True)
    assert client.calls[-1] == ("subscribe", [2, 3, 4])
    await watch.want("catalog", range(1, 2501))
    assert [len(ids) for op, ids in client.calls[-3:]] == [
        1000,
        1000,
        497,
    ]  # 2500 less the 3 held


def test_settings_file_holds_no_password(home: Path):
    Settings().remember(Target(), "siti")
    data = json.loads((home / "config" / "warung" / "client.json").read_text())
    assert set(data) == {"host", "port", "tls", "cafile", "user"}


def test_the_client_imports_neither_the_server_nor_the_database():
    """docs/architecture.md (layers): client_tui may import protocol and textual only (the
    demo server runs as a child process, not in the app)."""
    code = (
        "import sys, client_tui.cli, client_tui.app\n"
        "bad = [m for m in ('twisted', 'peewee', 'server', 'db', 'psycopg2') if m in sys.modules]\n"
        "print(','.join(bad))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""
