"""Pictures of the main screens (pytest-textual-snapshot), kept steady: the demo shop is
the same on every run, each picture has its own customer (or its own shop when orders
are in it), times are fixed, cursors do not blink and notifications are cleared.

After a deliberate change of the look: `pytest tests/tui/test_snapshots.py --snapshot-update`
and review the SVGs in `__snapshots__/`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from textual.widgets import Input

from client_tui import timefmt
from client_tui.app import WarungApp
from client_tui.connection import Target
from client_tui.screens.checkout import CheckoutScreen
from client_tui.screens.order import OrderScreen
from client_tui.screens.product import ProductScreen
from client_tui.settings import Settings
from tests.e2e.harness import ServerProcess
from tests.tui.pilot import add_by_sku, make_app, search, sign_in, still, wait_for

PASSWORD = "snapshot-pass"


@pytest.fixture(scope="module")
def snap_shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A demo shop whose stock no picture changes, with one customer per picture."""
    server = ServerProcess(f"sqlite:///{tmp_path_factory.mktemp('snap') / 'shop.db'}").start()
    with server.client() as client:
        for name in ("ana", "budi", "citra", "dewi"):
            client.call("auth.register", username=name, password=PASSWORD)
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def fixed_times(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(timefmt, "when", lambda moment: "25 Nov 09:30" if moment else "")


async def steady(pilot) -> None:
    """Stop what moves: blinking cursors and notifications."""
    for field in pilot.app.screen.query(Input):
        field.cursor_blink = False
    pilot.app.clear_notifications()
    await pilot.pause()


def test_sign_in(snap_compare):
    app = still(WarungApp(Target("127.0.0.1", 7411), settings=Settings(), user="ana"))

    async def run_before(pilot):
        await wait_for(pilot, lambda: pilot.app.screen.query("#password"), "the form")
        await steady(pilot)

    assert snap_compare(app, run_before=run_before)


def test_catalog(snap_compare, snap_shop):
    async def run_before(pilot):
        await sign_in(pilot, "ana", PASSWORD)
        await steady(pilot)

    assert snap_compare(make_app(snap_shop), run_before=run_before)


def test_catalog_wide_with_categories(snap_compare, snap_shop):
    async def run_before(pilot):
        await sign_in(pilot, "ana", PASSWORD)
        await wait_for(
            pilot,
            lambda: len(pilot.app.screen.query_one("#categories").root.children) == 4,
            "the categories",
        )
        await steady(pilot)

    assert snap_compare(make_app(snap_shop), run_before=run_before, terminal_size=(120, 32))


def test_catalog_without_colour(snap_compare, snap_shop, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    app = make_app(snap_shop)
    assert app.no_color

    async def run_before(pilot):
        await sign_in(pilot, "ana", PASSWORD)
        await search(pilot, "Bunda Susu Kental")
        await steady(pilot)

    assert snap_compare(app, run_before=run_before)


def test_product_dialog(snap_compare, snap_shop):
    async def run_before(pilot):
        await sign_in(pilot, "ana", PASSWORD)
        await search(pilot, "SUS-0011")
        await steady(pilot)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, ProductScreen), "the dialog")
        await steady(pilot)

    assert snap_compare(make_app(snap_shop), run_before=run_before)


def test_help(snap_compare, snap_shop):
    async def run_before(pilot):
        await sign_in(pilot, "ana", PASSWORD)
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: pilot.app.screen.query("#help-keys"), "the help")
        await steady(pilot)

    assert snap_compare(make_app(snap_shop), run_before=run_before)


def test_cart(snap_compare, snap_shop):
    async def run_before(pilot):
        await sign_in(pilot, "budi", PASSWORD)
        await add_by_sku(pilot, "MIE-0011")
        await add_by_sku(pilot, "MIE-0011")
        await add_by_sku(pilot, "BIS-0005")
        await pilot.press("f3")
        await wait_for(pilot, lambda: pilot.app.screen.query_one("#cart-lines").has_focus, "cart")
        await steady(pilot)

    assert snap_compare(make_app(snap_shop), run_before=run_before)


def test_checkout_declined(snap_compare, snap_shop):
    async def run_before(pilot):
        app = pilot.app
        await sign_in(pilot, "citra", PASSWORD)
        await add_by_sku(pilot, "MIE-0012")
        await steady(pilot)  # the toast would show through the dialog's backdrop
        await pilot.press("f3", "c")
        dialog = await wait_for(
            pilot, lambda: isinstance(app.screen, CheckoutScreen) and app.screen, "checkout"
        )
        dialog.query_one("#token", Input).value = "decline"
        await pilot.click("#pay")
        await wait_for(pilot, lambda: dialog.query_one("#checkout-problem").display, "decline")
        await steady(pilot)

    assert snap_compare(make_app(snap_shop), run_before=run_before)


def test_order_placed(snap_compare, fresh_shop: ServerProcess):
    async def run_before(pilot):
        app = pilot.app
        await sign_in(pilot, "customer", fresh_shop.passwords["customer"])
        await add_by_sku(pilot, "MIE-0013")
        await steady(pilot)
        await pilot.press("f3", "c")
        await wait_for(pilot, lambda: isinstance(app.screen, CheckoutScreen), "checkout")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, OrderScreen), "the order")
        await steady(pilot)

    assert snap_compare(make_app(fresh_shop), run_before=run_before)


def test_fulfilment_queue(snap_compare, fresh_shop: ServerProcess, home: Path):
    def buy(sku: str) -> None:
        with fresh_shop.client("customer") as client:
            product = client.call("catalog.get", sku=sku)
            client.call("cart.add", product_id=product["id"], qty=2)
            client.checkout({"method": "card", "token": "ok"})

    buy("MIE-0014")
    buy("MIE-0015")

    async def run_before(pilot):
        await sign_in(pilot, "clerk", fresh_shop.passwords["clerk"])
        await pilot.press("f4")  # a clerk starts at the point of sale
        orders = pilot.app.screen.query_one("#orders-view")
        await wait_for(pilot, lambda: len(orders.orders) == 2, "the queue")
        buy("MIE-0016")  # paid while the clerk watches: joins the queue, marked new
        await wait_for(pilot, lambda: len(orders.orders) == 3, "the new order")
        table = orders.query_one("#orders-table")
        newest = max(orders.orders)

        def paid_and_still() -> bool:  # a change of status flashes its cell for a moment
            cell = table.get_cell(str(newest), "status")
            return orders.orders[newest]["status"] == "paid" and "reverse" not in str(cell.style)

        await wait_for(pilot, paid_and_still, "the new order paid, its cell still")
        await wait_for(pilot, lambda: table.has_focus, "the queue focused")  # F4 focuses late
        await steady(pilot)

    assert snap_compare(make_app(fresh_shop), run_before=run_before)


def test_catalog_on_a_phone(snap_compare, snap_shop):
    async def run_before(pilot):
        await sign_in(pilot, "ana", PASSWORD)
        await search(pilot, "Bunda Susu Kental")
        await steady(pilot)

    assert snap_compare(make_app(snap_shop), run_before=run_before, terminal_size=(40, 24))


def test_product_dialog_on_a_phone(snap_compare, snap_shop):
    async def run_before(pilot):
        await sign_in(pilot, "ana", PASSWORD)
        await search(pilot, "SUS-0011")
        await steady(pilot)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, ProductScreen), "the dialog")
        await steady(pilot)

    assert snap_compare(make_app(snap_shop), run_before=run_before, terminal_size=(40, 24))


def test_cart_on_a_phone(snap_compare, snap_shop):
    async def run_before(pilot):
        await sign_in(pilot, "dewi", PASSWORD)
        await add_by_sku(pilot, "SUS-0011")
        await add_by_sku(pilot, "SUS-0011")
        await add_by_sku(pilot, "MIE-0011")
        await pilot.press("f3")
        await wait_for(pilot, lambda: pilot.app.screen.query_one("#cart-lines").has_focus, "cart")
        await steady(pilot)

    assert snap_compare(make_app(snap_shop), run_before=run_before, terminal_size=(40, 24))


def test_sign_in_without_colour_kept_ticked(snap_compare, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    app = still(WarungApp(Target("127.0.0.1", 7411), settings=Settings(), user="ana"))

    async def run_before(pilot):
        await wait_for(pilot, lambda: pilot.app.screen.query("#stay"), "the form")
        pilot.app.screen.query_one("#stay").value = True
        await steady(pilot)

    assert snap_compare(app, run_before=run_before)


def test_catalog_searched_in_a_category(snap_compare, snap_shop):
    async def run_before(pilot):
        await sign_in(pilot, "ana", PASSWORD)
        tree = pilot.app.screen.query_one("#categories")
        await wait_for(pilot, lambda: len(tree.root.children) == 4, "the categories")
        minuman = next(n for n in tree.root.children if str(n.label) == "Minuman")
        tree.focus()
        tree.move_cursor(next(n for n in minuman.children if str(n.label) == "Kopi & Teh"))
        await pilot.press("enter")
        view = pilot.app.screen.query_one("#catalog-view")
        await wait_for(pilot, lambda: view.category_id is not None and view.loaded, "Kopi")
        await search(pilot, "susu")
        await steady(pilot)

    assert snap_compare(make_app(snap_shop), run_before=run_before, terminal_size=(120, 32))
