"""Browsing: server-side search as you type, categories, pages loaded on scrolling, and the
product dialog."""

from __future__ import annotations

from typing import Any

from textual.pilot import Pilot
from textual.widgets import Button, Input, Static, Tree

from client_tui.screens.product import ProductScreen
from tests.tui.pilot import (
    catalog,
    label_text,
    make_app,
    notified,
    product_by_sku,
    products,
    search,
    shop_of,
    sign_in,
    wait_for,
)


async def test_search_runs_on_the_server_once_typing_pauses(shop, customer, monkeypatch):
    app = make_app(shop)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot, *customer)
        calls: list[str] = []
        original = shop_of(app).product_page

        async def counting(query="", category_id=None, cursor=None, limit=50):
            calls.append(query)
            return await original(query, category_id, cursor, limit)

        monkeypatch.setattr(shop_of(app), "product_page", counting)
        await pilot.press("slash")
        box = app.screen.query_one("#search", Input)
        assert box.has_focus
        for character in "kopi susu":  # typed faster than the debounce: one listing
            box.insert_text_at_cursor(character)
        view = catalog(app)
        await wait_for(pilot, lambda: view.query_text == "kopi susu" and view.loaded, "results")
        assert calls == ["kopi susu"]  # one listing for nine keystrokes
        table = products(app)
        assert 0 < table.row_count < 50
        for product in table.products.values():
            text = f"{product['name']} {product['sku']} {product['description']}".lower()
            assert "kopi" in text and "susu" in text
        await pilot.press(*"zzz")  # at the pilot's pace: maybe a listing per key
        await wait_for(pilot, lambda: view.query_text == "kopi susuzzz" and view.loaded, "none")
        assert table.row_count == 0
        assert "No products matching" in label_text(app, "#products-empty")


async def test_choosing_a_category_lists_only_its_products(shop, customer):
    app = make_app(shop)
    async with app.run_test(size=(120, 30)) as pilot:
        await sign_in(pilot, *customer)
        tree = app.screen.query_one("#categories", Tree)
        assert tree.display  # wide enough: the tree is shown
        await wait_for(pilot, lambda: len(tree.root.children) == 4, "the categories")
        minuman = next(n for n in tree.root.children if str(n.label) == "Minuman")
        kopi = next(n for n in minuman.children if str(n.label) == "Kopi & Teh")
        assert minuman.allow_expand and not kopi.allow_expand  # no ▼ where nothing folds
        tree.focus()
        tree.move_cursor(kopi)
        await pilot.press("enter")
        view = catalog(app)
        await wait_for(pilot, lambda: view.category_id == kopi.data and view.loaded, "listing")
        table = products(app)
        assert table.row_count > 0
        assert {p["category_id"] for p in table.products.values()} == {kopi.data}
        assert " in Kopi & Teh · Ctrl+G all products" in label_text(app, "#scope")


async def test_the_tree_is_folded_away_on_80_columns_and_t_shows_it(shop, customer):
    app = make_app(shop)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot, *customer)
        tree = app.screen.query_one("#categories", Tree)
        assert not tree.display
        await pilot.press("t")
        await wait_for(pilot, lambda: tree.display and tree.has_focus, "the tree")
        await pilot.press("t")
        await wait_for(pilot, lambda: not tree.display, "the tree folded")


async def scroll_to_page(pilot: Pilot[Any], page: int) -> None:
    """End, on the last row loaded: wait until page `page` (50 rows each) comes."""
    view, table = catalog(pilot.app), products(pilot.app)
    await pilot.press("end")
    await wait_for(pilot, lambda: view.loaded and table.row_count > 50 * (page - 1), f"page {page}")


async def test_pages_load_as_you_scroll_through_the_whole_catalog(shop, customer):
    app = make_app(shop)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot, *customer)
        table = products(app)
        assert table.row_count == 50
        for page in range(2, 9):
            await scroll_to_page(pilot, page)
        assert table.row_count == 399
        assert not table.more
        names = [p["name"].lower() for p in table.products.values()]
        assert names == sorted(names)
        assert len(shop_of(app).watch.subscribed) == 399  # every row shown is live


async def test_product_dialog_shows_the_description_and_adds_a_quantity(shop, customer):
    app = make_app(shop)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot, *customer)
        table = await search(pilot, "MIE-0003")
        assert table.row_count == 1
        product = table.highlighted
        assert product is not None
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ProductScreen), "the dialog")
        dialog = app.screen
        description = dialog.query_one("#product-description", Static)
        assert product["description"] in str(description.render())
        qty = dialog.query_one("#qty", Input)
        assert qty.has_focus
        qty.value = "3"
        await pilot.press("enter")
        await wait_for(pilot, lambda: shop_of(app).cart["count"] == 3, "3 in the cart")
        assert not isinstance(app.screen, ProductScreen)
        line = shop_of(app).cart["items"][0]
        assert (line["sku"], line["qty"]) == ("MIE-0003", 3)
        assert label_text(app, "#status-cart") == "Cart 3 · Rp 9.000,00"


async def test_a_sold_out_product_cannot_be_added_and_says_why(shop, customer):
    sold_out = _sold_out_sku(shop)
    app = make_app(shop)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot, *customer)
        table = await search(pilot, sold_out)
        assert table.highlighted is not None
        name = table.highlighted["name"]
        await pilot.press("a")  # not a silent no-op
        await wait_for(pilot, lambda: notified(app, f"{name} is sold out"), "why not")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ProductScreen), "the dialog")
        assert app.screen.query_one("#add", Button).disabled
        assert label_text(app, "#product-stock") == "✕ sold out"
        app.clear_notifications()
        await pilot.press("enter")  # in the quantity field
        await wait_for(pilot, lambda: notified(app, f"{name} is sold out"), "why not, again")
        assert shop_of(app).cart["count"] == 0


async def test_adding_the_last_units_again_says_the_cart_holds_them(shop, customer):
    sku = "SNK-0007"
    product = product_by_sku(shop, sku)
    assert product["stock"] > 0
    with shop.client() as client:
        client.login(*customer)
        client.call("cart.add", product_id=product["id"], qty=product["stock"])
    app = make_app(shop)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot, *customer)
        await search(pilot, sku)
        await pilot.press("a")
        told = f"Your cart holds the last {product['stock']} already: there are no more to add."
        await wait_for(pilot, lambda: notified(app, told), "why not")
        assert not notified(app, "Lower the quantity")


def _sold_out_sku(server) -> str:
    with server.client("admin") as client:
        cursor, found = None, []
        while True:
            page = client.call("catalog.list", limit=200, **({"cursor": cursor} if cursor else {}))
            found += [p["sku"] for p in page["items"] if p["stock"] == 0]
            cursor = page["next_cursor"]
            if not cursor:
                return sorted(found)[0]
