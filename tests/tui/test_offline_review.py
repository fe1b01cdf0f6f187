"""What the till shows of its sales rung up offline beyond sending them (issue 20): a sale
the shop refused for good is listed (F9) until a person dismisses it after a question
naming its receipt and amount; the last known stock drops with each offline sale, to 0 at
most; a clerk who cannot start offline is told what to do; a browser tab of `warung web`
does not sell offline, and says so."""

from __future__ import annotations

from typing import Any

from textual.pilot import Pilot
from textual.widgets import DataTable, Input, Static

from client_tui.connection import Target
from client_tui.offline_queue import QUEUE_FILE
from client_tui.paths import data_dir
from client_tui.screens.confirm import ConfirmScreen
from client_tui.screens.refused import RefusedSalesScreen
from client_web.tab import tab_app
from tests.e2e.harness import ServerProcess
from tests.e2e.proxy import CuttableProxy
from tests.tui.offline_pilot import (
    PREFIX,
    age_queued_sale,
    pay_cash,
    pos_sales,
    sell_cash,
    sign_in_kept,
    till_app,
)
from tests.tui.pilot import (
    buy,
    label_text,
    product_by_sku,
    shop_of,
    sign_in,
    still,
    wait_for,
    warung,
)
from tests.tui.pos_pilot import demo_clerk, open_till, pos, screen_of

SKUS = ["MIE-0001", "MIE-0002"]


async def go_offline(pilot: Pilot[Any], proxy: CuttableProxy) -> None:
    app = warung(pilot)
    proxy.down()
    await wait_for(pilot, lambda: not shop_of(app).online, "the link lost")


async def test_a_refused_offline_sale_is_listed_until_dismissed(
    fresh_shop: ServerProcess,
) -> None:
    proxy = CuttableProxy(fresh_shop.port)
    app = till_app(proxy.port)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await sign_in_kept(pilot, *demo_clerk(fresh_shop))
            await open_till(pilot)
            await sell_cash(pilot, SKUS)  # the till sees the products online
            await go_offline(pilot, proxy)
            refused = (await sell_cash(pilot, [SKUS[0]], "20000")).order
            recorded = (await sell_cash(pilot, [SKUS[1]])).order
            assert refused["receipt"] == f"{PREFIX}-000001"
            age_queued_sale(refused["receipt"])
            proxy.up()
            shop_of(app).client.retry_now()
            await wait_for(pilot, lambda: shop_of(app).queued_count() == 0, "the queue sent", 20)
            banner = "1 offline sale refused: F9 to review"
            await wait_for(pilot, lambda: banner in label_text(app, "#offline-banner"), "banner")

            await pilot.press("f9")
            review: RefusedSalesScreen = await screen_of(pilot, RefusedSalesScreen)
            table = review.query_one("#refused", DataTable)
            await wait_for(pilot, lambda: table.row_count == 1, "the refused sale listed")
            amount = shop_of(app).money.format(refused["total"])
            row = table.get_row_at(0)
            assert (row[0], row[2]) == (refused["receipt"], amount)
            details = str(review.query_one("#refused-lines", Static).render())
            assert "30 days" in details
            assert f"1 x {refused['lines'][0]['name']}" in details

            await pilot.press("enter")
            question: ConfirmScreen = await screen_of(pilot, ConfirmScreen)
            assert refused["receipt"] in question.title_text
            assert question.amount == f"{refused['receipt']} · {amount}"
            await pilot.press("escape")  # backing out keeps it
            await screen_of(pilot, RefusedSalesScreen)
            assert shop_of(app).refused_count() == 1 and table.row_count == 1
            await pilot.press("enter")
            await screen_of(pilot, ConfirmScreen)
            await pilot.press("enter")
            await wait_for(pilot, lambda: table.row_count == 0, "the sale dismissed")
            assert shop_of(app).refused_count() == 0
            await pilot.press("escape")
            await wait_for(pilot, lambda: not pos(app).query_one("#offline-banner").display, "")
    finally:
        proxy.close()
    receipts = [s["receipt"] for s in pos_sales(fresh_shop) if s["offline_at"] is not None]
    assert receipts == [recorded["receipt"]]


async def test_offline_sales_lower_the_last_known_stock(fresh_shop: ServerProcess) -> None:
    """Two offline sales of the last unit: the second is told 0 in stock (as last known)."""
    sku = SKUS[0]
    buy(fresh_shop, sku, product_by_sku(fresh_shop, sku)["stock"] - 1)
    proxy = CuttableProxy(fresh_shop.port)
    app = till_app(proxy.port)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await sign_in_kept(pilot, *demo_clerk(fresh_shop))
            await open_till(pilot)
            view = pos(app)
            await pilot.press(*sku, "enter")  # seen online: 1 in stock
            await wait_for(pilot, lambda: view.ticket.lines, "the product on the ticket")
            await pilot.press("tab", "x")
            await wait_for(pilot, lambda: not view.ticket.lines and view.entry.has_focus, "")
            await go_offline(pilot, proxy)
            for left in (1, 0):  # the last unit, sold twice
                assert f"{left} in stock then" in await scan(pilot, sku)
                await pay_cash(pilot)
            assert "0 in stock then" in await scan(pilot, sku), "never below 0"
            assert shop_of(app).queued_count() == 2
    finally:
        proxy.close()


async def scan(pilot: Any, sku: str) -> str:
    """Put one `sku` on an empty ticket; what the till said of it."""
    view = pos(pilot.app)
    await pilot.press(*sku, "enter")
    await wait_for(pilot, lambda: view.ticket.lines, f"{sku} on the ticket")
    return label_text(pilot.app, "#pos-message")


async def test_a_clerk_without_a_kept_session_is_told_what_to_do(
    fresh_shop: ServerProcess,
) -> None:
    proxy = CuttableProxy(fresh_shop.port)
    proxy.down()
    app = till_app(proxy.port)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_for(pilot, lambda: app.screen.query("#username"), "the sign-in screen")
            app.screen.query_one("#username", Input).value = demo_clerk(fresh_shop)[0]
            app.screen.query_one("#password", Input).value = demo_clerk(fresh_shop)[1]
            app.screen.query_one("#password", Input).focus()
            await pilot.press("enter")
            said = "Stay signed in ticked while the shop answered"
            await wait_for(pilot, lambda: said in label_text(app, "#signin-message"), "why")
            assert "note sales on paper" in label_text(app, "#signin-message")
    finally:
        proxy.close()


async def test_a_browser_tab_does_not_sell_offline(fresh_shop: ServerProcess) -> None:
    """Every tab of `warung web` runs on the web host with its one data dir: no tab keeps
    an offline queue there, and a clerk's tab says why it stops selling when the link goes."""
    proxy = CuttableProxy(fresh_shop.port)
    app = still(tab_app(Target("127.0.0.1", proxy.port)))
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await sign_in(pilot, *demo_clerk(fresh_shop))
            await open_till(pilot)
            assert shop_of(app).offline is None
            await scan(pilot, SKUS[0])
            await go_offline(pilot, proxy)
            said = "a browser tab does not sell offline"
            await wait_for(pilot, lambda: said in label_text(app, "#offline-banner"), "why")
            await pilot.press("f5")
            await wait_for(pilot, lambda: said in label_text(app, "#pos-message"), "refused")
            assert len(pos(app).ticket.lines) == 1, "the ticket waits for the link"
    finally:
        proxy.close()
    assert not (data_dir() / QUEUE_FILE).exists()
