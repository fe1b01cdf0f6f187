"""The till keeps selling for cash when its server is away, and loses nothing (issue 20):
the link is cut by a proxy the test controls, five cash sales are rung up, the app ends
without a goodbye, starts again still offline (from the kept session and the station's
queue), rings up two more; once the link is back the seven sales are on the server exactly
once with the till's receipts, the till balances, and a product sold out online meanwhile
is recorded with a shortfall and stock at zero. The same with two servers over PostgreSQL
behind HAProxy (deploy/haproxy.cfg), the till's server stopping while it is offline: the
till comes back through HAProxy to the other one."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Input

from client_tui.screens.confirm import ConfirmScreen
from client_tui.screens.till import TillCloseScreen
from client_tui.till import TillStatus
from protocol.errors import Unavailable
from tests.e2e.haproxy import BEHIND_PROXY, connections, start_haproxy
from tests.e2e.harness import ServerProcess, Servers, wait_until
from tests.e2e.proxy import CuttableProxy
from tests.e2e.shopdb import init_demo
from tests.tui.offline_pilot import PREFIX, pos_sales, sell_cash, sign_in_kept, till_app
from tests.tui.pilot import (
    buy,
    label_text,
    notified,
    product_by_sku,
    refuse,
    shop_of,
    wait_for,
)
from tests.tui.pos_pilot import demo_clerk, open_till, pos, screen_of

SOLD_OUT = "KOP-0002"  # sold out online while the till is offline; the till sells 1 of it
OFFLINE_SALES = [  # (SKUs, cash handed over)
    (["MIE-0001", "MIE-0002"], "50000"),
    (["MIE-0003"], ""),
    (["MIE-0001", SOLD_OUT], "100000"),
    (["MIE-0004"], ""),
    (["MIE-0002"], "20000"),
]
AFTER_RESTART = [(["MIE-0003", "MIE-0004"], ""), (["MIE-0001"], "10000")]
OPENING = 10_000_000  # Rp 100.000


async def test_offline_sales_survive_a_restart_and_reach_the_server_once(
    fresh_shop: ServerProcess,
) -> None:
    proxy = CuttableProxy(fresh_shop.port)

    def cut() -> ServerProcess:
        proxy.down()
        return fresh_shop

    try:
        await offline_then_back(fresh_shop, proxy, cut)
    finally:
        proxy.close()


@pytest.mark.pg
async def test_offline_sales_reach_the_other_server_behind_haproxy(
    servers: Servers, new_pg_schema: Any, tmp_path: Path
) -> None:
    with new_pg_schema() as url:
        init_demo(url)
        extra = ("--metrics-port", "0", *BEHIND_PROXY)
        first, second = (servers.start(*extra, db_url=url) for _ in range(2))
        haproxy, front = start_haproxy(tmp_path, {"w1": first.port, "w2": second.port})
        proxy = CuttableProxy(front)

        def cut_and_stop_the_tills_server() -> ServerProcess:
            """The link cut, then the till's server stops: the till comes back to the other."""
            on_first, _ = wait_until(lambda: connections(first, second, 1), 10, "the till's")
            gone, left = (first, second) if on_first else (second, first)
            proxy.down()
            gone.stop()
            wait_until(lambda: haproxy.servers_up() == {"w2" if on_first else "w1"}, 30, "down")
            return through(front, left)

        try:
            await offline_then_back(through(front, first), proxy, cut_and_stop_the_tills_server)
        finally:
            proxy.close()
            haproxy.stop()


def through(front: int, server: ServerProcess) -> ServerProcess:
    """`server` as the test's own clients reach it: through HAProxy's `front`, since servers
    behind it take connections from HAProxy only (the PROXY protocol)."""
    view = copy.copy(server)
    view.port = front
    return view


async def offline_then_back(
    server: ServerProcess, proxy: CuttableProxy, cut: Callable[[], ServerProcess]
) -> None:
    """The whole story, the till reaching the shop through `proxy`; `server`: one of the
    shop's servers; `cut` takes the link down (`proxy.down()`, and maybe more) and returns
    the server the checks use from then on (another one, when it stopped the till's)."""
    clerk = demo_clerk(server)
    every_sku = sorted({sku for skus, _ in OFFLINE_SALES + AFTER_RESTART for sku in skus})
    receipts: list[dict[str, Any]] = []
    app = till_app(proxy.port)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in_kept(pilot, *clerk)
        await open_till(pilot, cash="100000", station="kasir-1")
        online = await sell_cash(pilot, every_sku)  # the till sees every product online
        assert online.order["id"] is not None and online.order["receipt"] is None
        server = await asyncio.to_thread(cut)
        view = pos(app)
        await wait_for(pilot, lambda: not shop_of(app).online, "the link lost")
        await wait_for(pilot, lambda: "OFFLINE" in label_text(app, "#offline-banner"), "banner")
        await pilot.press(*"MIE-0001", "enter")
        await wait_for(pilot, lambda: view.ticket.lines, "a product last seen")
        assert "Last known price" in label_text(app, "#pos-message")
        await pilot.press("f6")  # card: refused, saying why
        await wait_for(pilot, lambda: "payment provider" in label_text(app, "#pos-message"), "why")
        await pilot.press("tab", "x")
        await wait_for(pilot, lambda: not view.ticket.lines and view.entry.has_focus, "empty")
        stock = product_by_sku(server, SOLD_OUT)["stock"]
        buy(server, SOLD_OUT, stock)  # a customer online takes every unit meanwhile
        for skus, cash in OFFLINE_SALES:
            receipts.append((await sell_cash(pilot, skus, cash)).order)
        assert shop_of(app).queued_count() == 5
        assert "5 sales to send" in label_text(app, "#offline-banner")
        assert view.query_one("#offline-banner").display
    # the run ends without a word to the server (the link is down): as a killed till would

    app = till_app(proxy.port)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.screen.query("#pos-view"), "the till, offline")
        await wait_for(pilot, lambda: notified(app, "does not answer"), "said offline")
        assert shop_of(app).till.status == TillStatus.OPEN and not shop_of(app).online
        assert "5 sales to send" in label_text(app, "#offline-banner")
        for skus, cash in AFTER_RESTART:
            receipts.append((await sell_cash(pilot, skus, cash)).order)
        assert "7 sales to send" in label_text(app, "#offline-banner")
        assert [r["receipt"] for r in receipts] == [f"{PREFIX}-{n:06d}" for n in range(1, 8)]

        proxy.up()
        shop_of(app).client.retry_now()
        await wait_for(pilot, lambda: shop_of(app).online, "the link back", timeout=20)
        await wait_for(pilot, lambda: shop_of(app).queued_count() == 0, "the queue sent", 20)
        await wait_for(pilot, lambda: not pos(app).query_one("#offline-banner").display, "gone")

        total = online.order["total"] + sum(r["total"] for r in receipts)
        await pilot.press("f8")
        closing = await screen_of(pilot, TillCloseScreen)
        await wait_for(pilot, lambda: closing.running is not None, "the till's figures")
        assert closing.running["expected_cash"] == OPENING + total
        assert closing.running["by_method"]["cash"]["count"] == 8
        closing.query_one("#counted-cash", Input).focus()
        assert total % 100 == 0  # whole rupiah: typed as digits
        await pilot.press(*str((OPENING + total) // 100), "enter")
        await screen_of(pilot, ConfirmScreen)
        await pilot.press("enter")
        await wait_for(pilot, lambda: closing.closed is not None, "the till closed")
        assert closing.closed["difference"] == 0

    sales = pos_sales(server)
    offline = [s for s in sales if s["offline_at"] is not None]
    assert sorted(s["receipt"] for s in offline) == [r["receipt"] for r in receipts]
    assert len(sales) == 8  # the online sale and the seven, each once
    for sale, rung_up in zip(sorted(offline, key=lambda s: s["receipt"]), receipts, strict=True):
        assert sale["total"] == rung_up["total"] and sale["status"] == "completed"
        assert sale["offline_at"] == rung_up["offline_at"]
    assert product_by_sku(server, SOLD_OUT)["stock"] == 0
    with server.client("clerk") as client:
        shortfalls = client.call("clerk.shortfall.list", limit=100)["items"]
    assert [(s["sku"], s["qty"], s["receipt"]) for s in shortfalls] == [
        (SOLD_OUT, 1, receipts[2]["receipt"])
    ]


async def test_closing_with_sales_queued_waits_or_closes_to_reconcile_later(
    fresh_shop: ServerProcess,
) -> None:
    """The shop answers but does not take the queued sales yet (`unavailable`): closing
    says so; *Wait* keeps the till open, *Close now, reconcile later* closes it on the
    server's figures without them, and they are recorded with that session afterwards."""
    proxy = CuttableProxy(fresh_shop.port)
    app = till_app(proxy.port)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await sign_in_kept(pilot, *demo_clerk(fresh_shop))
            await open_till(pilot, cash="100000", station="kasir-1")
            online = await sell_cash(pilot, ["MIE-0001", "MIE-0002"])
            proxy.down()
            await wait_for(pilot, lambda: not shop_of(app).online, "the link lost")
            queued = [(await sell_cash(pilot, [sku])).order for sku in ("MIE-0001", "MIE-0002")]
            client = shop_of(app).client
            refused = refuse(client, "clerk.sale", Unavailable("busy", {"retry_after_ms": 1}))
            proxy.up()
            client.retry_now()
            await wait_for(pilot, lambda: shop_of(app).online and refused, "the shop busy")
            assert "Sending 2 sales rung up offline" in label_text(app, "#offline-banner")

            await pilot.press("f8")
            question = await screen_of(pilot, ConfirmScreen)
            assert question.title_text == "2 sales rung up offline not sent yet"
            assert (question.go, question.back) == ("Close now, reconcile later", "Wait")
            await pilot.press("escape")  # wait
            await wait_for(pilot, lambda: not isinstance(app.screen, ConfirmScreen), "waiting")
            assert shop_of(app).till.status == TillStatus.OPEN

            await pilot.press("f8")
            await screen_of(pilot, ConfirmScreen)
            await pilot.press("enter")  # close now, reconcile later
            closing = await screen_of(pilot, TillCloseScreen)
            await wait_for(pilot, lambda: closing.running is not None, "the till's figures")
            expected = OPENING + online.order["total"]
            assert closing.running["expected_cash"] == expected  # the queued ones not yet
            drawer = expected + sum(sale["total"] for sale in queued)
            await pilot.press(*str(drawer // 100), "enter")
            await screen_of(pilot, ConfirmScreen)
            await pilot.press("enter")
            await wait_for(pilot, lambda: closing.closed is not None, "the till closed")
            assert closing.closed["difference"] == drawer - expected > 0

            del client.call  # the shop takes sales again
            await wait_for(pilot, lambda: shop_of(app).queued_count() == 0, "sent after the close")
    finally:
        proxy.close()
    recorded = [s for s in pos_sales(fresh_shop) if s["offline_at"] is not None]
    assert sorted(s["receipt"] for s in recorded) == [s["receipt"] for s in queued]
    with fresh_shop.client("admin") as admin:
        entries = admin.call("admin.audit.list", action="clerk.sale", limit=50)["items"]
    late = [e for e in entries if e["details"].get("receipt") in {s["receipt"] for s in queued}]
    assert len(late) == 2 and all(e["details"]["after_close"] for e in late)
