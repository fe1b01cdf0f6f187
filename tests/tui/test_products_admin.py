"""Products, the admin's tab (F5), against a real server: create (a taken SKU and a price
the server refuses are shown under their fields), edit, archive and restore after a
question naming the product, archived products listed and marked with a word."""

from __future__ import annotations

import secrets
from typing import Any

from textual.widgets import Input, Label, Select, TabbedContent

from client_tui.screens.confirm import ConfirmScreen
from client_tui.screens.product_form import ProductFormScreen
from client_tui.widgets.products_admin import ProductsView
from tests.tui.pilot import (
    label_text,
    make_app,
    notified,
    product_by_sku,
    search,
    sign_in,
    wait_for,
)


async def products_tab(pilot, shop) -> ProductsView:
    """Sign in as the admin and open Products (F5) with its first page."""
    app = pilot.app
    await sign_in(pilot, "admin", shop.passwords["admin"])
    await pilot.press("f5")
    view = app.screen.query_one("#products-view", ProductsView)
    await wait_for(pilot, lambda: view.loaded and view.table.row_count, "the products")
    return view


async def find(pilot, view: ProductsView, sku: str) -> dict[str, Any]:
    """Search the tab for `sku`; the cursor is then on it."""
    box = view.query_one("#search", Input)
    box.value = sku
    box.focus()
    await pilot.press("enter")
    await wait_for(pilot, lambda: view.loaded and view.query_text == sku, f"{sku} listed")
    product = view.table.highlighted
    assert product is not None and product["sku"] == sku
    return product


async def form(pilot, key: str) -> ProductFormScreen:
    app = pilot.app
    await pilot.press(key)
    dialog = await wait_for(
        pilot, lambda: isinstance(app.screen, ProductFormScreen) and app.screen, "the form"
    )
    await wait_for(pilot, lambda: dialog.categories, "the categories")
    return dialog


async def submit(pilot, dialog: ProductFormScreen, **values: str) -> None:
    for field, value in values.items():
        dialog.query_one(f"#form-{field}", Input).value = value
    dialog.query_one("#form-name", Input).focus()
    await pilot.press("enter")


def problem(dialog: ProductFormScreen, field: str) -> str:
    label = dialog.query_one(f"#{field}-problem", Label)
    return str(label.render()) if label.display else ""


def cell(view: ProductsView, product_id: int, column: str) -> str:
    return str(view.table.get_cell(str(product_id), column))


async def test_create_says_a_taken_sku_and_a_refused_price_under_their_fields(shop):
    sku = f"NEW-{secrets.token_hex(3)}"
    app = make_app(shop)
    async with app.run_test(size=(80, 24)) as pilot:
        view = await products_tab(pilot, shop)
        dialog = await form(pilot, "n")
        assert dialog.query_one("#form-sku", Input).has_focus  # the first field
        category = dialog.query_one("#form-category", Select)
        category.value = product_by_sku(shop, "MIE-0001")["category_id"]
        await submit(
            pilot, dialog, sku="MIE-0001", name="Kopi Susu Gula Aren", price="18000", stock="6"
        )
        await wait_for(pilot, lambda: problem(dialog, "sku"), "the taken SKU")
        assert problem(dialog, "sku") == (
            "That SKU is taken (archived products keep theirs): choose another."
        )
        assert app.screen is dialog
        assert dialog.query_one("#form-sku", Input).has_focus  # to be typed again
        await pilot.press("backspace")
        await wait_for(pilot, lambda: problem(dialog, "sku") == "", "the refusal gone as retyped")

        await submit(pilot, dialog, sku=sku, price="99999999999")
        await wait_for(pilot, lambda: problem(dialog, "price"), "the refused price")
        assert problem(dialog, "price").startswith("The price must be")
        assert problem(dialog, "sku") == ""
        assert dialog.query_one("#form-price", Input).has_focus

        await submit(pilot, dialog, price="18.000")  # grouped, as the shop shows prices
        await wait_for(pilot, lambda: app.screen is not dialog, "the form closed")
        made = await find(pilot, view, sku)
    assert product_by_sku(shop, sku) == {**made, "stock": 6}
    assert (made["name"], made["price"], made["archived"]) == (
        "Kopi Susu Gula Aren",
        1_800_000,
        False,
    )


async def test_a_price_of_nothing_is_asked_about_before_it_is_saved(shop):
    sku = f"FREE-{secrets.token_hex(3)}"
    app = make_app(shop)
    async with app.run_test(size=(80, 24)) as pilot:
        await products_tab(pilot, shop)
        dialog = await form(pilot, "n")
        category = dialog.query_one("#form-category", Select)
        category.value = product_by_sku(shop, "MIE-0001")["category_id"]
        await submit(pilot, dialog, sku=sku, name="Sampel Kopi", price="0", stock="3")
        question = await wait_for(
            pilot, lambda: isinstance(app.screen, ConfirmScreen) and app.screen, "the question"
        )
        assert question.title_text == "Sell it for nothing?"
        await pilot.press("escape")  # change the price: nothing sent
        await wait_for(pilot, lambda: app.screen is dialog, "back in the form")
        with shop.client("admin") as admin:
            assert admin.call("catalog.list", query=sku, limit=5)["items"] == []
        await submit(pilot, dialog)
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), "asked again")
        await pilot.press("enter")
        await wait_for(
            pilot,
            lambda: app.screen is not dialog and not isinstance(app.screen, ConfirmScreen),
            "saved",
        )
    assert product_by_sku(shop, sku)["price"] == 0


async def test_edit_changes_the_row_and_the_shop(shop):
    before = product_by_sku(shop, "MIE-0006")
    app = make_app(shop)
    async with app.run_test(size=(80, 24)) as pilot:
        view = await products_tab(pilot, shop)
        await find(pilot, view, "MIE-0006")
        dialog = await form(pilot, "e")
        assert dialog.query_one("#form-name", Input).has_focus
        assert dialog.query_one("#form-category", Select).value == before["category_id"]
        await submit(pilot, dialog, name="Mie Rebus Soto Baru", price="4250,50")
        await wait_for(pilot, lambda: app.screen is not dialog, "the form closed")
        await wait_for(
            pilot, lambda: cell(view, before["id"], "name") == "Mie Rebus Soto Baru", "the row"
        )
        assert cell(view, before["id"], "price") == "Rp 4.250,50"
        updates = edits_of(shop, before["id"])
        dialog = await form(pilot, "e")  # and saved again unchanged: nothing is sent
        assert dialog.query_one("#form-price", Input).value == "4.250,50"  # as the shop shows it
        await submit(pilot, dialog)
        await wait_for(pilot, lambda: app.screen is not dialog, "the form closed")
        assert notified(app, "Nothing was changed.")
        assert edits_of(shop, before["id"]) == updates == 1
    after = product_by_sku(shop, "MIE-0006")
    assert after == {**before, "name": "Mie Rebus Soto Baru", "price": 425_050}


def edits_of(shop, product_id: int) -> int:
    """How many `admin.product.update` entries the audit log holds for the product."""
    with shop.client("admin") as admin:
        page = admin.call(
            "admin.audit.list", action="admin.product.update", target=f"product:{product_id}"
        )
    return len(page["items"])


async def test_archive_and_restore_ask_first_naming_the_product(shop):
    product = product_by_sku(shop, "MIE-0007")
    named = f"{product['name']} (MIE-0007)"
    app = make_app(shop)
    async with app.run_test(size=(80, 24)) as pilot:
        view = await products_tab(pilot, shop)
        await find(pilot, view, "MIE-0007")
        await pilot.press("x")
        question = await wait_for(
            pilot, lambda: isinstance(app.screen, ConfirmScreen) and app.screen, "the question"
        )
        assert str(question.query_one("#confirm-amount", Label).render()) == named
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, ConfirmScreen), "backed out")
        assert product_by_sku(shop, "MIE-0007")["archived"] is False  # nothing sent

        await pilot.press("x")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the question")
        await pilot.press("enter")
        await wait_for(pilot, lambda: cell(view, product["id"], "state") == "archived", "marked")
        assert product_by_sku(shop, "MIE-0007")["archived"] is True

        await find(pilot, view, "MIE-0007")  # listed again: staff see archived products
        assert cell(view, product["id"], "state") == "archived"
        await pilot.press("u")
        question = await wait_for(
            pilot, lambda: isinstance(app.screen, ConfirmScreen) and app.screen, "the question"
        )
        assert "Restore" in question.title_text and named in question.what
        await pilot.press("enter")
        await wait_for(pilot, lambda: cell(view, product["id"], "state") == "", "unmarked")
    assert product_by_sku(shop, "MIE-0007")["archived"] is False


async def test_a_product_archived_elsewhere_leaves_a_customers_open_catalog(shop, customer):
    product = product_by_sku(shop, "MIE-0008")
    app = make_app(shop)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot, *customer)
        table = await search(pilot, "MIE-0008")
        assert product["id"] in table.products
        with shop.client("admin") as admin:
            admin.call("admin.product.archive", product_id=product["id"])
        try:
            await wait_for(pilot, lambda: product["id"] not in table.products, "the row gone")
            assert label_text(app, "#products-empty").startswith("No products matching")
        finally:
            with shop.client("admin") as admin:
                admin.call("admin.product.restore", product_id=product["id"])


async def test_a_customers_count_of_products_loses_the_one_archived(shop, customer):
    app = make_app(shop)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot, *customer)
        table = await search(pilot, "")
        counted = await wait_for(pilot, lambda: table.total, "the count")
        assert f"of {counted} products" in label_text(app, "#scope")
        first = next(iter(table.products))
        with shop.client("admin") as admin:
            admin.call("admin.product.archive", product_id=first)
        try:
            await wait_for(pilot, lambda: first not in table.products, "the row gone")
            await wait_for(
                pilot, lambda: f"of {counted - 1} products" in label_text(app, "#scope"), "count"
            )
        finally:
            with shop.client("admin") as admin:
                admin.call("admin.product.restore", product_id=first)


async def test_down_from_the_search_goes_to_this_tabs_list(shop):
    """Inventory and Products each hold a table `#products`: Down from the Products search
    reaches the Products list, and the Products tab stays."""
    app = make_app(shop)
    async with app.run_test(size=(100, 30)) as pilot:
        view = await products_tab(pilot, shop)
        await find(pilot, view, "MIE-0004")
        view.query_one("#search", Input).focus()
        await pilot.press("down")
        await wait_for(pilot, lambda: view.table.has_focus, "the Products list focused")
        assert app.screen.query_one("#tabs", TabbedContent).active == "admin-products"


async def test_on_a_phone_the_stock_and_the_state_read_apart(shop):
    product = product_by_sku(shop, "SNK-0010")
    with shop.client("admin") as admin:
        admin.call("admin.product.archive", product_id=product["id"])
    try:
        app = make_app(shop)
        async with app.run_test(size=(44, 30)) as pilot:
            view = await products_tab(pilot, shop)
            await find(pilot, view, "SNK-0010")
            table = view.table

            def row() -> str:
                return " ".join(table.render_line(y).text for y in range(1, 4))

            await wait_for(pilot, lambda: f"{product['stock']} archived" in row(), "the row")
            assert "Stock State" in " ".join(table.render_line(0).text.split())
    finally:
        with shop.client("admin") as admin:
            admin.call("admin.product.restore", product_id=product["id"])


async def test_leaving_a_form_with_something_typed_asks_first(shop):
    app = make_app(shop)
    async with app.run_test(size=(80, 24)) as pilot:
        await products_tab(pilot, shop)
        dialog = await form(pilot, "n")
        await pilot.press("escape")  # nothing typed: it just goes
        await wait_for(pilot, lambda: app.screen is not dialog, "the empty form gone")
        dialog = await form(pilot, "n")
        dialog.query_one("#form-name", Input).value = "Kopi Baru"
        await pilot.press("escape")
        question = await wait_for(
            pilot, lambda: isinstance(app.screen, ConfirmScreen) and app.screen, "the question"
        )
        assert question.title_text == "Leave without saving?"
        await pilot.press("escape")  # keep editing
        await wait_for(pilot, lambda: app.screen is dialog, "back at the form")
        assert dialog.query_one("#form-name", Input).value == "Kopi Baru"
        await pilot.click("#form-back")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), "asked again")
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen is not dialog, "left")
