"""The point of sale on a phone (40 columns), by taps: the ticket shows every column whole,
and buttons three rows tall open the till, pay and confirm, with no F-key pressed."""

from __future__ import annotations

from textual.coordinate import Coordinate
from textual.widgets import Button, TabbedContent

from client_tui.offline_start import BROWSER_NOT_OFFLINE
from client_tui.screens.confirm import ConfirmScreen
from client_tui.screens.pay import PayScreen
from client_tui.screens.receipt import ReceiptScreen
from client_tui.screens.till import TillOpenScreen
from client_tui.till import TillStatus
from tests.tui.pilot import make_app, product_by_sku, shop_of, sign_in, wait_for
from tests.tui.pos_pilot import Keys, at_the_till, demo_clerk, sales_on_server, screen_of

TAP_ROWS = 3  # about 60 pixels in the page: a finger needs 44


async def test_a_clerk_on_a_phone_sells_by_taps_and_sees_the_whole_ticket(fresh_shop):
    price = product_by_sku(fresh_shop, "KOP-0002")["price"]
    app = make_app(fresh_shop)
    async with app.run_test(size=(40, 40)) as pilot:
        await sign_in(pilot, *demo_clerk(fresh_shop))
        view = await at_the_till(pilot)
        buttons = list(view.query("#pos-buttons Button").results(Button))
        assert [str(b.label) for b in buttons] == ["Cash", "Card", "E-wallet", "Till"]
        await wait_for(  # laid out once the view has settled (later on a loaded machine)
            pilot,
            lambda: all(b.region.height >= TAP_ROWS and b.region.width >= 8 for b in buttons),
            "buttons big enough to tap",
        )
        await pilot.click("#pos-till")
        dialog = await screen_of(pilot, TillOpenScreen)
        await pilot.press(*"100000", "enter")
        await wait_for(pilot, lambda: shop_of(app).till.status == TillStatus.OPEN, "the till open")
        await wait_for(pilot, lambda: app.screen is not dialog, "the dialog gone")
        view.entry.focus()
        await Keys(pilot).scan("12*KOP-0002", lines=1)

        table = view.table
        assert [str(c.label) for c in table.ordered_columns] == [
            "Product",
            "Qty",
            "Price",
            "Total",
            "",
        ]
        assert table.virtual_size.width <= table.scrollable_content_region.width  # nothing cut
        total = shop_of(app).money.format(12 * price, whole=True)
        assert str(table.get_cell_at(Coordinate(0, 3))).strip() == total

        await pilot.click("#pos-cash")
        await screen_of(pilot, PayScreen)
        await pilot.press("enter")  # the exact amount, typed on the phone's keyboard
        question = await screen_of(pilot, ConfirmScreen)
        confirm = question.query_one("#confirm", Button)
        assert confirm.region.height >= TAP_ROWS
        await pilot.click("#confirm")
        receipt = await screen_of(pilot, ReceiptScreen)
        change = receipt.query_one("#change-due")  # the change to give, in view on a phone

        def in_view() -> bool:
            region = change.region
            inside = region.right <= app.size.width and region.bottom <= app.size.height
            return region.width >= 3 and region.height >= 3 and inside

        await wait_for(pilot, in_view, "the change in view")
        paper = receipt.query_one("#receipt-text")  # 40 columns, as printed: never folded
        assert paper.size.width == max(len(line) for line in receipt.receipt.splitlines()) == 40
    [sale] = sales_on_server(fresh_shop)
    assert sale["payment"]["method"] == "cash" and sale["lines"][0]["qty"] == 12


async def test_the_buttons_are_for_phones_alone(fresh_shop):
    app = make_app(fresh_shop)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot, *demo_clerk(fresh_shop))
        view = await at_the_till(pilot)
        assert not view.query_one("#pos-buttons").display
        assert str(view.table.ordered_columns[0].label) == "SKU"


async def test_a_clerks_three_tabs_fit_a_phone_and_take_their_full_titles_when_wider(fresh_shop):
    app = make_app(fresh_shop)
    async with app.run_test(size=(40, 24)) as pilot:
        await sign_in(pilot, *demo_clerk(fresh_shop))
        await at_the_till(pilot)
        tabs = app.screen.query_one("#tabs", TabbedContent)
        labels = lambda: [tabs.get_tab(p).label.plain for p in ("pos", "orders", "catalog")]  # noqa: E731
        assert labels() == ["Sale F3", "Fulfilment F4", "Inventory F2"]
        assert all(tabs.get_tab(p).region.right <= 40 for p in ("pos", "orders", "catalog"))
        await pilot.resize_terminal(80, 24)
        await wait_for(pilot, lambda: labels()[0] == "Point of sale F3", "the full title")
        await pilot.resize_terminal(40, 24)
        await wait_for(pilot, lambda: labels()[0] == "Sale F3", "the short title again")


async def test_the_offline_banner_folds_on_a_phone_and_says_what_to_do(fresh_shop):
    """Offline, the banner says what to do last: on a phone it takes the lines that needs
    rather than cutting it off."""
    app = make_app(fresh_shop, sells_offline=False)  # as in a browser tab
    async with app.run_test(size=(44, 30)) as pilot:
        await sign_in(pilot, *demo_clerk(fresh_shop))
        await at_the_till(pilot)
        fresh_shop.stop()
        banner = app.screen.query_one("#offline-banner")
        await wait_for(pilot, lambda: banner.display and banner.size.height > 1, "folded")
        assert str(banner.render()) == f"OFFLINE · {BROWSER_NOT_OFFLINE}"
        assert banner.size.height == 4  # its 133 characters on 42 columns: none cut off
