"""The till keeps selling for cash when its server is away, and loses nothing (issue 20):
the link is cut by a proxy the test controls, five cash sales are rung up, the app ends
without a goodbye, starts again still offline (from the kept session and the station's
queue), rings up two more; once the link is back the seven sales are on the server exactly
once with the till's receipts, the till balances, and a product sold out online meanwhile
is recorded with a shortfall and stock at zero."""

from __future__ import annotations

from typing import Any

from textual.widgets import Input

from client_tui.screens.confirm import ConfirmScreen
from client_tui.screens.till import TillCloseScreen
from client_tui.till import TillStatus
from tests.e2e.harness import ServerProcess
from tests.e2e.proxy import CuttableProxy
from tests.tui.offline_pilot import PREFIX, pos_sales, sell_cash, sign_in_kept, till_app
from tests.tui.pilot import buy, label_text, notified, product_by_sku, wait_for
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
    await offline_then_back(fresh_shop, CuttableProxy(fresh_shop.port), [fresh_shop])


async def offline_then_back(
    server: ServerProcess, proxy: CuttableProxy, servers: list[ServerProcess]
) -> None:
    """The whole story against `server` reached through `proxy`; `servers`: every server
    of the shop (the sales are looked for on each)."""
    clerk = demo_clerk(server)
    every_sku = sorted({sku for skus, _ in OFFLINE_SALES + AFTER_RESTART for sku in skus})
    receipts: list[dict[str, Any]] = []
    app = till_app(proxy.port)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in_kept(pilot, *clerk)
        await open_till(pilot, cash="100000", station="kasir-1")
        online = await sell_cash(pilot, every_sku)  # the till sees every product online
        assert online.order["id"] is not None and online.order["receipt"] is None
        proxy.down()
        view = pos(app)
        await wait_for(pilot, lambda: not app.shop.online, "the link lost")
        await wait_for(pilot, lambda: "OFFLINE" in label_text(app, "#offline-banner"), "banner")
        await pilot.press(*"MIE-0001", "enter")
        await wait_for(pilot, lambda: view.ticket.lines, "a product last seen")
        assert "last known price" in label_text(app, "#pos-message")
        await pilot.press("f6")  # card: refused, saying why
        await wait_for(pilot, lambda: "payment provider" in label_text(app, "#pos-message"), "why")
        await pilot.press("tab", "x")
        await wait_for(pilot, lambda: not view.ticket.lines and view.entry.has_focus, "empty")
        stock = product_by_sku(server, SOLD_OUT)["stock"]
        buy(server, SOLD_OUT, stock)  # a customer online takes every unit meanwhile
        for skus, cash in OFFLINE_SALES:
            receipts.append((await sell_cash(pilot, skus, cash)).order)
        assert app.shop.queued_count() == 5
        assert "5 sales waiting to be sent" in label_text(app, "#offline-banner")
        assert view.query_one("#offline-banner").display
    # the run ends without a word to the server (the link is down): as a killed till would

    app = till_app(proxy.port)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.screen.query("#pos-view"), "the till, offline")
        await wait_for(pilot, lambda: notified(app, "does not answer"), "said offline")
        assert app.shop.till.status == TillStatus.OPEN and not app.shop.online
        assert "5 sales waiting" in label_text(app, "#offline-banner")
        for skus, cash in AFTER_RESTART:
            receipts.append((await sell_cash(pilot, skus, cash)).order)
        assert "7 sales waiting" in label_text(app, "#offline-banner")
        assert [r["receipt"] for r in receipts] == [f"{PREFIX}-{n:06d}" for n in range(1, 8)]

        proxy.up()
        app.client.retry_now()
        await wait_for(pilot, lambda: app.shop.online, "the link back", timeout=20)
        await wait_for(pilot, lambda: app.shop.queued_count() == 0, "the queue sent", 20)
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

    sales = [s for srv in servers[:1] for s in pos_sales(srv)]
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
