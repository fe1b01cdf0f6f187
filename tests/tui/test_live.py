"""Live updates: a product selling out while on screen, a cart line that sells out, and
order statuses moving and a part refunded while the customer watches."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Button, Label, Static

from client_tui.screens.order import OrderScreen
from client_tui.screens.product import ProductScreen
from client_tui.widgets.cart_table import CartTable
from client_tui.widgets.product_table import ProductTable
from tests.tui.pilot import (
    add_by_sku,
    buy,
    checkout_as,
    customer_with_order,
    label_text,
    make_app,
    new_customer,
    notified,
    orders_listing,
    product_by_sku,
    search,
    shop_of,
    sign_in,
    wait_for,
)
from tests.tui.pos_pilot import table_text


def stock_cell(table: ProductTable, product_id: int) -> Text:
    """The stock cell of `product_id`'s row."""
    cell = table.get_cell(str(product_id), "stock")
    assert isinstance(cell, Text)
    return cell


async def test_the_last_unit_sold_elsewhere_shows_sold_out_in_place(shop, customer):
    app = make_app(shop)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot, *customer)
        table = await search(pilot, "Bersih Jaya")
        key = next(k for k, p in table.products.items() if p["sku"] == "SAB-0017")
        table.move_cursor(row=table.get_row_index(str(key)))
        rows_before = list(table.rows.values())
        cells_before = {k: table.get_row(k)[:3] for k in table.rows}
        assert str(table.get_cell(str(key), "stock")) == "! only 1 left"
        view = app.screen.query_one("#catalog-view")
        assert view.check_action("add", ()) is True

        buy(shop, "SAB-0017", 1)  # another customer takes the last one

        cell = await wait_for(
            pilot,
            lambda: (
                str(table.get_cell(str(key), "stock")) == "✕ sold out"
                and table.get_cell(str(key), "stock")
            ),
            "sold out",
        )
        assert "reverse" in str(cell.style)  # marked for a moment
        assert list(table.rows.values()) == rows_before  # the same row objects: no rebuild
        assert {k: table.get_row(k)[:3] for k in table.rows} == cells_before
        assert table.get_row_index(str(key)) == table.cursor_row
        await pilot.press("a")
        await wait_for(pilot, lambda: notified(app, "is sold out"), "why nothing is added")
        await wait_for(
            pilot,
            lambda: "reverse" not in str(stock_cell(table, key).style),
            "the mark to fade",
        )


async def test_the_product_dialog_disables_add_when_it_sells_out(shop, customer):
    app = make_app(shop)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot, *customer)
        await search(pilot, "MNR-0011")
        await pilot.press("enter")
        dialog = await wait_for(
            pilot, lambda: isinstance(app.screen, ProductScreen) and app.screen, "dialog"
        )
        add = dialog.query_one("#add", Button)
        assert not add.disabled
        buy(shop, "MNR-0011", 1)
        await wait_for(pilot, lambda: add.disabled, "add disabled")
        assert label_text(app, "#product-stock") == "✕ sold out"


async def test_a_cart_line_that_sells_out_is_flagged(shop, customer):
    app = make_app(shop)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot, *customer)
        await add_by_sku(pilot, "BRS-0020")
        await add_by_sku(pilot, "MIE-0008")
        await pilot.press("f3")
        lines = app.screen.query_one("#cart-lines", CartTable)
        key = str(shop_of(app).cart["items"][0]["product_id"])
        assert str(lines.get_cell(key, "note")) == ""
        buy(shop, "BRS-0020", 1)
        await wait_for(pilot, lambda: str(lines.get_cell(key, "note")) == "sold out", "flag")
        problem = app.screen.query_one("#cart-problem", Label)
        assert problem.display
        name = product_by_sku(shop, "BRS-0020")["name"]
        assert str(problem.render()) == (
            f"Not enough stock: {name} (sold out). Lower the quantity or remove it."
        )
        assert shop_of(app).cart["count"] == 2  # nothing removed behind the user's back


async def test_order_status_changes_arrive_live(shop):
    username, password, order = customer_with_order(shop, "MIE-0009")
    app = make_app(shop)
    async with app.run_test(size=(80, 24)) as pilot:
        orders = await orders_listing(pilot, username, password, order["id"])
        status = lambda: str(orders.table.get_cell(str(order["id"]), "status"))  # noqa: E731
        assert status() == "paid"
        with shop.client("clerk") as clerk:
            clerk.call("order.ship", order_id=order["id"])
            await wait_for(pilot, lambda: status() == "shipped", "shipped")
            clerk.call("order.deliver", order_id=order["id"])
            await wait_for(pilot, lambda: status() == "delivered", "delivered")
        assert orders.check_action("act", ("cancel_order",)) is None


async def test_a_new_order_takes_the_cursor_left_on_the_newest(shop):
    username, password, first = customer_with_order(shop, "MIE-0009")
    app = make_app(shop)
    async with app.run_test(size=(80, 24)) as pilot:
        orders = await orders_listing(pilot, username, password, first["id"])
        assert orders.current == first
        second = checkout_as(shop, username, password, "MIE-0009", 1)  # on another device
        await wait_for(pilot, lambda: second["id"] in orders.orders, "the new order listed")
        assert orders.current is not None and orders.current["id"] == second["id"]
        await pilot.press("down")  # left on an older one, it stays there
        third = checkout_as(shop, username, password, "MIE-0009", 1)
        await wait_for(pilot, lambda: third["id"] in orders.orders, "the third listed")
        assert orders.current is not None and orders.current["id"] == first["id"]


async def test_a_refund_of_a_part_reaches_the_customers_open_order(shop):
    username, password = new_customer(shop)
    order = checkout_as(shop, username, password, "MIE-0010", 3)
    app = make_app(shop)
    async with app.run_test(size=(80, 24)) as pilot:
        await orders_listing(pilot, username, password, order["id"])
        await pilot.press("enter")
        dialog = await wait_for(
            pilot, lambda: isinstance(app.screen, OrderScreen) and app.screen, "the order"
        )
        lines = dialog.query_one("#order-lines", Static)
        assert "Refunded" not in table_text(lines)
        with shop.client("clerk") as clerk:
            line = [{"product_id": order["lines"][0]["product_id"], "qty": 1}]
            clerk.call("clerk.refund", order_id=order["id"], lines=line, reason="crushed")
        refunded = shop_of(app).money.format(order["lines"][0]["unit_price"])
        await wait_for(pilot, lambda: f"-{refunded}" in table_text(lines), "the refund, live")
        assert dialog.order["status"] == "paid"
