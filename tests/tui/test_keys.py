"""Keyboard, palette and mouse: the help screen, the app's own commands in the command
palette, clicking through tabs, rows and buttons; and a session ended elsewhere."""

from __future__ import annotations

from textual.widgets import Input

from client_tui.screens.checkout import CheckoutScreen
from client_tui.screens.confirm import ConfirmScreen
from client_tui.screens.help import HelpScreen
from client_tui.screens.order import OrderScreen
from client_tui.screens.product import ProductScreen
from client_tui.screens.signin import SignInScreen
from client_tui.widgets.cart_table import CartTable
from client_tui.widgets.orders import OrdersView
from tests.tui.pilot import (
    add_by_sku,
    catalog,
    customer_with_order,
    label_text,
    make_app,
    notified,
    orders_listing,
    products,
    run_command,
    search,
    shop_of,
    sign_in,
    wait_for,
)


async def test_help_lists_the_keys_of_where_you_are(shop, customer):
    app = make_app(shop)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot, *customer)
        await pilot.press("question_mark")
        help_screen = await wait_for(
            pilot, lambda: isinstance(app.screen, HelpScreen) and app.screen, "the help"
        )
        keys = str(help_screen.query_one("#help-keys").render())
        for words in ("Add to cart", "Search", "Categories", "Cart", "Orders",
                      "Two-factor sign-in", "Help"):  # fmt: skip
            assert words in keys
        assert "Cursor up" not in keys  # Textual's own keys are not repeated
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, HelpScreen), "closed")


async def test_the_command_palette_offers_the_apps_commands(shop, customer):
    app = make_app(shop)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot, *customer)
        await add_by_sku(pilot, "MIE-0017")
        titles = [c.title for c in app.get_system_commands(app.screen)]
        for title in ("Help", "Go to Catalog", "Go to Cart", "Go to Orders", "Search products",
                      "Check out", "Two-factor sign-in", "Sign out", "Quit"):  # fmt: skip
            assert title in titles
        await run_command(pilot, "check out", "Check out")
        await wait_for(pilot, lambda: isinstance(app.screen, CheckoutScreen), "checkout")


async def test_the_mouse_works_too(shop, customer):
    app = make_app(shop)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot, *customer)
        table = products(app)
        await pilot.click(table, offset=(12, 2))  # the second product row (under the header)
        await wait_for(pilot, lambda: table.cursor_row == 1, "the row under the pointer")
        await pilot.click(table, offset=(12, 2))  # a click on the cursor row opens it
        dialog = await wait_for(
            pilot, lambda: isinstance(app.screen, ProductScreen) and app.screen, "dialog"
        )
        await pilot.click("#add")
        await wait_for(pilot, lambda: shop_of(app).cart["count"] == 1, "added")
        await pilot.click("#tabs Tab#--content-tab-cart")
        await wait_for(
            pilot, lambda: app.screen.query_one("#cart-lines", CartTable).row_count, "cart"
        )
        await pilot.click("#tabs Tab#--content-tab-orders")
        await wait_for(
            pilot, lambda: app.screen.query_one("#orders-view", OrdersView).loaded, "orders"
        )
        assert dialog.is_attached is False


async def test_a_session_ended_elsewhere_goes_back_to_sign_in(shop, customer):
    app = make_app(shop)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot, *customer)
        with shop.client() as other:  # the same session, ended from another device
            other.resume(shop_of(app).client.token)
            other.logout()
        await pilot.press("a")  # the next call finds the session gone
        await wait_for(pilot, lambda: isinstance(app.screen, SignInScreen), "sign-in")
        mounted = ("#signin-message", "#username")  # the message a level up from the fields
        await wait_for(pilot, lambda: all(app.screen.query(n) for n in mounted), "the form")
        assert "session has ended" in label_text(app, "#signin-message")
        assert app.screen.query_one("#username", Input).value == customer.username


async def test_an_order_opens_from_the_orders_list(shop):
    username, password, order = customer_with_order(shop, "MIE-0018")
    app = make_app(shop)
    async with app.run_test(size=(80, 24)) as pilot:
        await orders_listing(pilot, username, password, order["id"])
        await pilot.press("enter")
        screen = await wait_for(
            pilot, lambda: isinstance(app.screen, OrderScreen) and app.screen, "detail"
        )
        assert screen.order["id"] == order["id"]
        assert "Status: paid" in label_text(app, "#order-status")


def footer_keys(app) -> dict[str, str]:
    """The keys the footer shows where the focus is: key: description."""
    return {
        key: active.binding.description
        for key, active in app.screen.active_bindings.items()
        if active.binding.show
    }


async def test_down_and_escape_leave_the_search_box(shop, customer):
    app = make_app(shop)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot, *customer)
        table = await search(pilot, "MIE-0011")
        box = app.screen.query_one("#search", Input)
        await pilot.press("slash")
        await wait_for(pilot, lambda: box.has_focus, "the box")
        assert footer_keys(app)["down"] == "To the list"
        assert footer_keys(app)["escape"] == "Clear search"
        await pilot.press("down")
        await wait_for(pilot, lambda: table.has_focus, "the list, search kept")
        assert box.value == "MIE-0011" and table.row_count == 1
        await pilot.press("slash", "escape")
        view = catalog(app)
        await wait_for(pilot, lambda: view.loaded and table.row_count > 1, "every product")
        assert box.value == "" and view.query_text == "" and table.has_focus


async def test_f_keys_under_a_dialog_say_to_close_it_first(shop, customer):
    app = make_app(shop)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot, *customer)
        await pilot.press("enter")
        dialog = await wait_for(
            pilot, lambda: isinstance(app.screen, ProductScreen) and app.screen, "the product"
        )
        await pilot.press("f3")
        await wait_for(pilot, lambda: notified(app, "Close this dialog first"), "the refusal")
        assert app.screen is dialog


async def test_quitting_and_signing_out_are_in_the_footer(shop, customer):
    app = make_app(shop)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot, *customer)
        keys = footer_keys(app)
        assert keys["ctrl+q"] == "Quit" and keys["ctrl+o"] == "Sign out"
        await add_by_sku(pilot, "MIE-0019")
        await pilot.press("escape")  # back to the list
        await pilot.press("q")  # with a cart: asks first
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the question")
        assert "Cart 1" in label_text(app, "#confirm-amount")
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, ConfirmScreen), "backed out")
        await pilot.press("ctrl+o")
        await wait_for(pilot, lambda: isinstance(app.screen, SignInScreen), "signed out")
        assert app.shop is None


async def test_q_with_an_empty_cart_quits_at_once(shop, customer):
    app = make_app(shop)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot, *customer)
        await pilot.press("q")
        await wait_for(pilot, lambda: app._exit, "the app to end")
