"""What a listing says about itself and keeps true (issue 16): the line above the table
(scope, count, position), End going to the very last product, search widened to every
category, and a listing that matches its search box again after a reconnect."""

from __future__ import annotations

import pytest
from textual.widgets import Input, Tree

from client_tui import shop as shop_module
from client_tui.shop import ORDER_PAGE
from client_tui.widgets.orders import OrdersView
from tests.tui.pilot import (
    catalog,
    end_past_a_refused_page,
    label_text,
    make_app,
    new_customer,
    products,
    search,
    shop_of,
    sign_in,
    wait_for,
)

CATALOG_SIZE = 399  # the demo shop's products


async def test_the_line_above_the_table_says_which_rows_are_shown_of_how_many(shop, customer):
    app = make_app(shop)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot, *customer)
        table = products(app)
        first, last = table.visible_rows()
        assert first == 1 and 5 < last < 50
        await wait_for(
            pilot,
            lambda: label_text(app, "#scope") == f"1-{last} of {CATALOG_SIZE} products",
            "the position before scrolling",
        )
        table.focus()
        await pilot.press("pagedown")
        await wait_for(pilot, lambda: table.visible_rows()[0] > last - 1, "a page down")
        await wait_for(
            pilot,
            lambda: (
                label_text(app, "#scope")
                == "{}-{} of {} products".format(*table.visible_rows(), CATALOG_SIZE)
            ),
            "the position after a page down",
        )


async def test_end_loads_every_page_and_goes_to_the_last_product(shop, customer, monkeypatch):
    app = make_app(shop)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot, *customer)
        calls: list[int] = []
        original = shop_of(app).product_page

        async def counting(query="", category_id=None, cursor=None, limit=50):
            calls.append(limit)
            return await original(query, category_id, cursor, limit)

        monkeypatch.setattr(shop_of(app), "product_page", counting)
        table = products(app)
        table.focus()
        await pilot.press("end")
        await wait_for(
            pilot,
            lambda: table.row_count == CATALOG_SIZE and table.cursor_row == CATALOG_SIZE - 1,
            "the last product under the cursor",
        )
        assert not table.more
        assert calls == [200, 200]  # the rest in big pages, not eight small ones
        last = max(table.products.values(), key=lambda p: (p["name"].lower(), p["id"]))
        assert table.highlighted == last
        await wait_for(
            pilot,
            lambda: label_text(app, "#scope").endswith(
                f"-{CATALOG_SIZE} of {CATALOG_SIZE} products"
            ),
            "the position at the end",
        )


async def test_a_search_in_a_category_says_so_and_ctrl_g_searches_everywhere(shop, customer):
    app = make_app(shop)
    async with app.run_test(size=(120, 30)) as pilot:
        await sign_in(pilot, *customer)
        tree = app.screen.query_one("#categories", Tree)
        await wait_for(pilot, lambda: len(tree.root.children) == 4, "the categories")
        minuman = next(n for n in tree.root.children if str(n.label) == "Minuman")
        kopi = next(n for n in minuman.children if str(n.label) == "Kopi & Teh")
        tree.focus()
        tree.move_cursor(kopi)
        await pilot.press("enter")
        view = catalog(app)
        await wait_for(pilot, lambda: view.category_id == kopi.data and view.loaded, "Kopi & Teh")
        table = await search(pilot, "beras")
        assert table.row_count == 0
        assert label_text(app, "#scope") == (
            "No results for “beras” in Kopi & Teh · Ctrl+G search everywhere"
        )
        await pilot.press("ctrl+g")
        await wait_for(
            pilot, lambda: view.category_id is None and view.loaded, "the search everywhere"
        )
        assert table.row_count > 0
        assert all(
            "beras" in f"{p['name']} {p['description']}".lower() for p in table.products.values()
        )
        assert label_text(app, "#scope").endswith(f"of {table.row_count} results for “beras”")
        assert tree.cursor_node is tree.root
        assert app.screen.query_one("#search", Input).value == "beras"  # the search is kept


async def test_choosing_all_products_keeps_the_tree_open(shop, customer):
    app = make_app(shop)
    async with app.run_test(size=(120, 30)) as pilot:
        await sign_in(pilot, *customer)
        tree = app.screen.query_one("#categories", Tree)
        await wait_for(pilot, lambda: len(tree.root.children) == 4, "the categories")
        tree.focus()
        tree.move_cursor(tree.root.children[0])
        await pilot.press("enter")
        view = catalog(app)
        await wait_for(pilot, lambda: view.category_id is not None and view.loaded, "a category")
        tree.focus()
        tree.move_cursor(tree.root)
        await pilot.press("enter")
        await wait_for(pilot, lambda: view.category_id is None and view.loaded, "all products")
        assert tree.root.is_expanded
        assert all(node.is_expanded for node in tree.root.children)
        assert tree.last_line > 10  # every category still listed


@pytest.mark.parametrize("role", ["customer", "admin"])  # the catalog, and the inventory
async def test_after_a_reconnect_the_catalog_matches_its_search_box(fresh_shop, role):
    """Search, lose the server, clear the box and press Enter (the listing fails), server
    back: the table lists every product again, not the old search."""
    server = fresh_shop
    app = make_app(server)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot, role, server.passwords[role])
        await pilot.press("f2")
        table = await search(pilot, "SUS-0012")
        assert table.row_count == 1
        server.stop()
        await wait_for(
            pilot, lambda: "reconnecting" in label_text(app, "#status-link"), "reconnecting"
        )
        await pilot.press("slash")
        app.screen.query_one("#search", Input).value = ""
        await pilot.press("enter")
        view = catalog(app)
        await wait_for(pilot, lambda: view.query_text == "" and view.loaded, "the failed listing")
        assert table.row_count == 1  # offline: the old rows stay for now

        server.start(server.port)
        await wait_for(pilot, lambda: table.row_count == 50, "the whole catalog again", 20)
        assert label_text(app, "#scope").endswith(f" of {CATALOG_SIZE} products")


def customer_with_orders(shop, count: int) -> tuple[str, str, list[int]]:
    """A new customer who has placed `count` orders: name, password, the orders' ids."""
    username, password = new_customer(shop)
    with shop.client() as client:
        client.login(username, password)
        product = next(p for p in client.call("catalog.list", limit=50)["items"] if p["stock"] > 40)
        placed = []
        for _ in range(count):
            client.call("cart.add", product_id=product["id"], qty=1)
            placed.append(client.checkout({"method": "card", "token": "ok"})["id"])
    return username, password, placed


async def test_orders_say_where_they_are_and_end_goes_to_the_oldest(shop):
    username, password, placed = customer_with_orders(shop, ORDER_PAGE + 5)
    app = make_app(shop)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot, username, password)
        await pilot.press("f4")
        view = app.screen.query_one("#orders-view", OrdersView)
        await wait_for(pilot, lambda: len(view.orders) == ORDER_PAGE, "the first page")
        await wait_for(
            pilot,
            lambda: label_text(app, "#orders-position").endswith(f" of {ORDER_PAGE}+ orders"),
            "the position, more to come",
        )
        await pilot.press("end")
        await wait_for(
            pilot,
            lambda: (
                len(view.orders) == len(placed)
                and view.current is not None
                and view.current["id"] == min(placed)
            ),
            "the oldest order under the cursor",
        )
        await wait_for(
            pilot,
            lambda: label_text(app, "#orders-position").endswith(
                f"-{len(placed)} of {len(placed)} orders"
            ),
            "the position at the end",
        )


async def test_after_a_next_page_that_failed_end_asks_for_it_again(shop, monkeypatch):
    monkeypatch.setattr(shop_module, "ORDER_PAGE", 3)
    username, password, placed = customer_with_orders(shop, 5)
    app = make_app(shop)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot, username, password)
        await pilot.press("f4")
        view = app.screen.query_one("#orders-view", OrdersView)
        await wait_for(pilot, lambda: len(view.orders) == 3 and view.loaded, "the first page")
        await end_past_a_refused_page(pilot, view, "order.list")
        await wait_for(pilot, lambda: sorted(view.orders) == sorted(placed), "every order")
