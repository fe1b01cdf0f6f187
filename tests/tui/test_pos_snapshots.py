"""Pictures of the till at 80x24 (pytest-textual-snapshot): the point of sale with a ticket,
the till closed with a difference, the till offline with sales waiting, and the offline
sales the shop refused. Each runs on a
demo shop of its own (the same on every run), since the clerk's till is theirs on that
server.

After a deliberate change of the look: `pytest tests/tui/test_pos_snapshots.py
--snapshot-update`, and review the SVGs in `__snapshots__/`.
"""

from __future__ import annotations

from client_tui import timefmt
from client_tui.screens.confirm import ConfirmScreen
from client_tui.screens.pay import PayScreen
from client_tui.screens.receipt import ReceiptScreen
from client_tui.screens.refused import RefusedSalesScreen
from client_tui.screens.till import TillCloseScreen
from tests.e2e.harness import ServerProcess
from tests.e2e.proxy import CuttableProxy
from tests.tui.offline_pilot import age_queued_sale, sell_cash, sign_in_kept, till_app
from tests.tui.pilot import make_app, notified, sign_in, wait_for
from tests.tui.pos_pilot import Keys, at_the_till, demo_clerk, open_till, screen_of
from tests.tui.test_snapshots import steady


def test_point_of_sale(snap_compare, fresh_shop: ServerProcess):
    async def run_before(pilot):
        await sign_in(pilot, *demo_clerk(fresh_shop))
        await at_the_till(pilot)
        await open_till(pilot, "100000", station="kasir-1")
        keys = Keys(pilot)
        await keys.scan("MIE-0001", 1)
        await keys.scan("3*KOP-0002", 2)
        await keys.scan("2*SUS-0011", 3)
        await steady(pilot)

    assert snap_compare(make_app(fresh_shop), run_before=run_before)


def test_till_closed_with_a_difference(snap_compare, fresh_shop: ServerProcess):
    async def run_before(pilot):
        await sign_in(pilot, *demo_clerk(fresh_shop))
        await at_the_till(pilot)
        await open_till(pilot, "100000", station="kasir-1")
        await Keys(pilot).scan("2*MIE-0001", 1)
        await pilot.press("f5")  # a cash sale, Rp 7.000
        await screen_of(pilot, PayScreen)
        await pilot.press("enter")
        await screen_of(pilot, ConfirmScreen)
        await pilot.press("enter")
        await screen_of(pilot, ReceiptScreen)
        await pilot.press("enter", "f8")
        dialog = await screen_of(pilot, TillCloseScreen)
        await pilot.press(*"105000", "enter")  # Rp 2.000 short
        await screen_of(pilot, ConfirmScreen)
        await pilot.press("enter")
        await wait_for(pilot, lambda: dialog.closed is not None, "the till closed")
        await steady(pilot)

    assert snap_compare(make_app(fresh_shop), run_before=run_before)


def test_till_offline_with_sales_waiting(snap_compare, fresh_shop: ServerProcess):
    """The banner (offline, cash only, 2 sales waiting, prices as last known) over a ticket
    whose product was found among those last seen. The client is closed once offline, so
    the status reads `○ offline` instead of a moving countdown."""
    proxy = CuttableProxy(fresh_shop.port)

    async def run_before(pilot):
        app = pilot.app
        await sign_in_kept(pilot, *demo_clerk(fresh_shop))
        await open_till(pilot, "100000", station="kasir-1")
        await sell_cash(pilot, ["MIE-0001", "KOP-0002"])
        proxy.down()
        await wait_for(pilot, lambda: not app.shop.online, "the link lost")
        await app.client.close()
        await sell_cash(pilot, ["MIE-0001"])
        await sell_cash(pilot, ["KOP-0002"], "50000")
        await Keys(pilot).scan("2*MIE-0001", 1)
        app.clear_notifications()
        await steady(pilot)

    try:
        assert snap_compare(till_app(proxy.port), run_before=run_before)
    finally:
        proxy.close()


def test_refused_offline_sales(snap_compare, fresh_shop: ServerProcess, monkeypatch):
    """F9's list: two sales rung up offline whose receipts another till had taken, the
    first highlighted with its lines and the server's reason under the list."""
    monkeypatch.setattr(timefmt, "when", lambda moment: "30 Nov 14:05")
    proxy = CuttableProxy(fresh_shop.port)

    async def run_before(pilot):
        app = pilot.app
        await sign_in_kept(pilot, *demo_clerk(fresh_shop))
        await open_till(pilot, "100000", station="kasir-1")
        await sell_cash(pilot, ["MIE-0001", "KOP-0002"])
        proxy.down()
        await wait_for(pilot, lambda: not app.shop.online, "the link lost")
        receipts = [(await sell_cash(pilot, ["MIE-0001", "KOP-0002"], "50000")).order]
        receipts.append((await sell_cash(pilot, ["KOP-0002"])).order)
        for order in receipts:
            age_queued_sale(order["receipt"])
        proxy.up()
        app.client.retry_now()
        await wait_for(pilot, lambda: notified(app, "K1-000002"), "both refused", 20)
        await steady(pilot)  # the toasts go before the dialog covers the screen they are on
        await pilot.press("f9")
        await screen_of(pilot, RefusedSalesScreen)
        await steady(pilot)

    try:
        assert snap_compare(till_app(proxy.port), run_before=run_before)
    finally:
        proxy.close()


def test_point_of_sale_on_a_phone(snap_compare, fresh_shop: ServerProcess):
    async def run_before(pilot):
        await sign_in(pilot, *demo_clerk(fresh_shop))
        await at_the_till(pilot)
        await open_till(pilot, "100000", station="kasir-1")
        keys = Keys(pilot)
        await keys.scan("MIE-0001", 1)
        await keys.scan("3*KOP-0002", 2)
        await keys.scan("12*SUS-0011", 3)
        await steady(pilot)

    assert snap_compare(make_app(fresh_shop), run_before=run_before, terminal_size=(40, 40))
