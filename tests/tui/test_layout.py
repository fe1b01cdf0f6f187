"""How the customer screens read at every width and without colour (issue 16): names that
keep their variant, a 40-column layout, states that do not rest on colour, toasts that
stay few and off the table."""

from __future__ import annotations

from typing import Any

from rich.style import Style
from rich.text import Text
from textual.pilot import Pilot
from textual.widgets import Button, Checkbox
from textual.widgets._toast import Toast

from client_tui.screens.checkout import CheckoutScreen
from client_tui.screens.order import OrderScreen
from client_tui.screens.product import ProductScreen
from client_tui.widgets.cart_table import CartTable
from client_tui.widgets.orders import OrdersView
from tests.e2e.harness import ServerProcess
from tests.tui.pilot import (
    checkout_as,
    make_app,
    new_customer,
    product_by_sku,
    products,
    search,
    shop_of,
    sign_in,
    wait_for,
)


def shown_row(table, sku: str) -> str:
    """The row of `sku` as the terminal shows it, its lines joined by " / "."""
    key = next(str(k) for k, p in table.products.items() if p["sku"] == sku)
    y = sum(row.height for row in table.ordered_rows[: table.get_row_index(key)])
    top = y + table.header_height - int(table.scroll_y)
    lines = range(top, top + table.rows[key].height)
    return " / ".join(table.render_line(line).text.strip() for line in lines)


async def resize(pilot: Pilot[Any], width: int) -> None:
    """Make the terminal `width` columns wide (24 lines) and wait until the screen is."""
    await pilot.resize_terminal(width, 24)
    await wait_for(pilot, lambda: pilot.app.screen.size.width == width, f"{width} columns")


def shown_lines(dialog: OrderScreen) -> str:
    """The order dialog's lines and total as drawn, joined by spaces."""
    lines = dialog.query_one("#order-lines")
    return " ".join(strip.text for strip in lines.render_lines(lines.region.reset_offset))


async def my_orders(pilot: Pilot[Any], customer: tuple[str, str], count: int) -> OrdersView:
    """Signed in as `customer`, their orders (F4) once all `count` are listed."""
    await sign_in(pilot, *customer)
    await pilot.press("f4")
    orders = pilot.app.screen.query_one("#orders-view", OrdersView)
    await wait_for(pilot, lambda: orders.table.row_count == count, f"{count} orders")
    return orders


def screen_text(app) -> str:
    """The terminal's lines as shown, joined by newlines."""
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


def assert_buttons_on_screen(app) -> None:
    for button in app.screen.query(Button):
        if button.display:
            assert button.region.right <= 40 and button.region.bottom <= 24, button.id
            assert button.region.width >= len(str(button.label)), button.id


async def test_variants_stay_apart_at_100_columns(shop, customer):
    app = make_app(shop)
    async with app.run_test(size=(100, 30)) as pilot:
        await sign_in(pilot, *customer)
        table = await search(pilot, "Bunda Susu Kental Manis Cokelat")
        await pilot.pause()
        big, small = shown_row(table, "SUS-0011"), shown_row(table, "SUS-0012")
        assert "370 g" in big and "40 g" in small  # the cut keeps the pack size
        assert "Bunda Susu" in big and "Bunda Susu" in small


async def test_forty_columns_show_name_price_and_stock(shop, customer):
    app = make_app(shop)
    async with app.run_test(size=(40, 24)) as pilot:
        await sign_in(pilot, *customer)
        table = await search(pilot, "Bunda Susu Kental Manis")
        await pilot.pause()
        header = table.render_line(0).text
        assert "Name" in header and "Price" in header and "Stock" in header
        row = shown_row(table, "SUS-0011")
        assert "Rp 15.000" in row and "5 left" in row and "370 g" in row
        assert "sold out" in shown_row(table, "SUS-0010")
        name = next(c for c in table.columns.values() if c.key.value == "name")
        names = [str(table.get_cell(str(key), "name")) for key in table.products]
        assert all(len(line) <= name.width for text in names for line in text.split("\n"))
        assert len(set(names)) == len(names) == 4  # no two variants look the same
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ProductScreen), "the dialog")
        await pilot.pause()
        title = str(app.screen.query_one("#product-dialog").border_title)
        assert title.startswith("Bunda") and title.endswith("370 g") and len(title) <= 34
        for button in app.screen.query(Button):
            assert button.region.right <= 40 and button.region.bottom <= 24, button.id
            assert button.region.width >= len(str(button.label)), button.id


async def test_without_colour_stock_and_ticks_read_by_their_marks(shop, customer, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    app = make_app(shop)
    assert app.no_color
    async with app.run_test(size=(80, 24)) as pilot:
        stay = app.screen.query_one("#stay", Checkbox)
        off = stay.get_visual_style("toggle--button")
        stay.value = True
        await pilot.pause()
        on = stay.get_visual_style("toggle--button")
        assert off.foreground == off.background  # unticked: an empty box
        assert on.foreground != on.background  # ticked: its mark shows
        await sign_in(pilot, *customer)
        table = await search(pilot, "Bunda Susu Kental Manis Putih")
        cells = {p["sku"]: table.get_cell(str(k), "stock") for k, p in table.products.items()}
        assert str(cells["SUS-0010"]) == "✕ sold out" and str(cells["SUS-0009"]).endswith(
            " in stock"
        )
        for cell in cells.values():  # no colour for the terminal to turn grey on grey
            assert isinstance(cell, Text) and Style.parse(str(cell.style)).color is None, cell


async def test_toasts_are_few_and_keep_off_the_table(shop, customer):
    app = make_app(shop)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await sign_in(pilot, *customer)
        app.clear_notifications()
        for n in range(4):
            app.notify(f"news {n}", title="Catalog")
        app.notify("news 2", title="Catalog")  # the same again: moved, not a second toast
        await wait_for(pilot, lambda: len(app.screen.query(Toast)) == 2, "two toasts")
        await pilot.pause()
        assert [note.message for note in app._notifications] == ["news 3", "news 2"]
        table = products(app)
        for toast in app.screen.query(Toast):
            assert not toast.region.overlaps(table.region), toast.region


async def test_a_resize_changes_the_layout_and_keeps_rows_and_cursor(shop, customer):
    app = make_app(shop)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot, *customer)
        table = await search(pilot, "Bunda Susu Kental Manis")
        table.move_cursor(row=2)
        chosen = table.highlighted
        for width, sku_shown in ((40, False), (120, True), (80, True)):
            await resize(pilot, width)
            await pilot.pause()
            header = table.render_line(0).text
            assert ("SKU" in header) is sku_shown and "Stock" in header, width
            assert table.row_count == 4 and table.highlighted == chosen, width


async def test_forty_columns_show_the_cart_prices_and_check_out(shop, customer):
    product = product_by_sku(shop, "SUS-0011")
    with shop.client() as client:
        client.login(*customer)
        client.call("cart.add", product_id=product["id"], qty=3)
    app = make_app(shop)
    async with app.run_test(size=(40, 24)) as pilot:
        await sign_in(pilot, *customer)
        money = shop_of(app).money
        await pilot.press("f3")
        table = app.screen.query_one("#cart-lines", CartTable)
        await wait_for(pilot, lambda: table.has_focus and table.row_count, "the cart's lines")
        await pilot.pause()
        header = table.render_line(0).text
        assert "Product" in header and "Qty" in header and "Total" in header
        row = table.render_line(1).text
        line_total = money.format(3 * product["price"], whole=True)
        assert "Bunda" in row and money.format(product["price"], whole=True) in row, row
        assert line_total in row, row
        total = app.screen.query_one("#cart-total")
        assert total.region.right <= 40 and total.region.bottom <= 24, total.region
        shown = "".join(strip.text for strip in total.render_lines(total.region.reset_offset))
        assert f"3 items · Total {line_total}" in shown, shown
        assert "Check out" in screen_text(app).splitlines()[-1]  # the footer's key, not cut
        await pilot.press("c")
        dialog = await wait_for(
            pilot, lambda: isinstance(app.screen, CheckoutScreen) and app.screen, "checkout"
        )
        await pilot.pause()
        assert line_total in screen_text(app), screen_text(app)
        assert_buttons_on_screen(app)
        await pilot.click("#pay")
        placed = await wait_for(
            pilot, lambda: isinstance(app.screen, OrderScreen) and app.screen, "the order"
        )
        await pilot.pause()
        assert line_total in screen_text(app), screen_text(app)
        lines = app.screen.query_one("#order-lines")
        bought = " ".join(s.text for s in lines.render_lines(lines.region.reset_offset))
        assert "Bunda Susu" in bought and "370 g" in bought, f"the name folds: {bought}"
        assert_buttons_on_screen(app)
        assert dialog is not app.screen
        order_id = placed.order["id"]
        await pilot.press("escape", "f4")  # the orders list: the order, its status and total
        orders = app.screen.query_one("#orders-view", OrdersView)
        await wait_for(pilot, lambda: str(order_id) in orders.table.rows, "the order listed")
        await pilot.pause()
        row = orders.table.render_line(1).text
        assert f"#{order_id}" in row and "paid" in row and line_total in row, row


async def test_a_phone_keeps_the_orders_totals_whole_and_the_cursor_on_its_order(
    shop: ServerProcess,
) -> None:
    """Crossing 60 columns changes the orders list's columns: the cursor stays on its order,
    and a seven-digit total reads whole in the compact Total column."""
    username, password = new_customer(shop)
    big = checkout_as(shop, username, password, "SUS-0033", 20)
    checkout_as(shop, username, password, "SUS-0011", 1)  # newer: listed first
    app = make_app(shop)
    async with app.run_test(size=(100, 24)) as pilot:
        orders = await my_orders(pilot, (username, password), 2)
        await pilot.press("down")
        total = shop_of(app).money.format(big["total"], whole=True)
        assert len(total) == 12, total  # "Rp 1.060.000"
        for width in (40, 100, 40):
            await resize(pilot, width)
            await pilot.pause()
            current = orders.current
            assert orders.compact is (width < 60), width
            assert current is not None and current["id"] == big["id"], width
        assert total in orders.table.render_line(2).text, orders.table.render_line(2).text


async def test_an_open_order_is_laid_out_again_when_a_phone_turns(shop: ServerProcess) -> None:
    username, password = new_customer(shop)
    order = checkout_as(shop, username, password, "SUS-0033", 2)
    money_line = order["lines"][0]
    app = make_app(shop)
    async with app.run_test(size=(100, 24)) as pilot:
        await my_orders(pilot, (username, password), 1)
        await pilot.press("enter")
        dialog = await wait_for(
            pilot, lambda: isinstance(app.screen, OrderScreen) and app.screen, "the order"
        )
        money = shop_of(app).money
        unit = money.format(money_line["unit_price"])
        for width, compact in ((40, True), (100, False)):
            await resize(pilot, width)

            def laid_out(want: bool = compact) -> bool:
                return dialog.compact is want

            await wait_for(pilot, laid_out, f"{width} columns")

            def total_shown(total: str = money.format(order["total"], whole=compact)) -> bool:
                return total in shown_lines(dialog)

            await wait_for(pilot, total_shown, f"the total at {width} columns")
            assert (unit in shown_lines(dialog)) is not compact, (width, shown_lines(dialog))
