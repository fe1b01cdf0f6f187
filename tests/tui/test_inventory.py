"""Inventory, the staff's catalog: restock and adjust dialogs against a real server, a
restock seen live on a customer's screen, stock taken away only after a question, and the
low-stock filter."""

from __future__ import annotations

from textual.widgets import Input, Label

from client_tui.screens.confirm import ConfirmScreen
from client_tui.screens.stock import StockScreen
from client_tui.stock import LOW_STOCK
from tests.tui.pilot import (
    catalog,
    label_text,
    make_app,
    product_by_sku,
    search,
    shop_of,
    sign_in,
    wait_for,
)


async def stock_dialog(pilot, sku: str, key: str) -> StockScreen:
    """In Inventory, put the cursor on `sku` and open its restock (`r`) or adjust (`a`)."""
    app = pilot.app
    await pilot.press("f2")
    table = await search(pilot, sku)
    assert table.highlighted is not None and table.highlighted["sku"] == sku
    await pilot.press(key)
    return await wait_for(
        pilot, lambda: isinstance(app.screen, StockScreen) and app.screen, "the dialog"
    )


async def fill(pilot, dialog: StockScreen, qty: str, reason: str) -> None:
    dialog.query_one("#stock-qty", Input).value = qty
    dialog.query_one("#stock-reason", Input).value = reason
    dialog.query_one("#stock-reason", Input).focus()
    await pilot.press("enter")


def stock_cell(app, product_id: int) -> str:
    return str(app.screen.query_one("#products").get_cell(str(product_id), "stock"))


async def test_a_restock_is_seen_live_on_a_customers_screen(shop, customer):
    product = product_by_sku(shop, "MIE-0003")
    clerk_app, customer_app = make_app(shop), make_app(shop)
    async with customer_app.run_test(size=(80, 24)) as seen:
        await sign_in(seen, *customer)
        await search(seen, "MIE-0003")
        before = f"{product['stock']} in stock"
        assert stock_cell(customer_app, product["id"]) == before
        async with clerk_app.run_test(size=(80, 24)) as pilot:
            await sign_in(pilot, "clerk", shop.passwords["clerk"])
            dialog = await stock_dialog(pilot, "MIE-0003", "r")
            await fill(pilot, dialog, "12", "delivery note 4711")
            await wait_for(pilot, lambda: clerk_app.screen is not dialog, "the dialog closed")
            after = f"{product['stock'] + 12} in stock"
            await wait_for(pilot, lambda: stock_cell(clerk_app, product["id"]) == after, "+12")
        await wait_for(
            seen, lambda: stock_cell(customer_app, product["id"]) == after, "live at the customer"
        )
    assert product_by_sku(shop, "MIE-0003")["stock"] == product["stock"] + 12


async def test_taking_stock_away_asks_first_naming_the_units(shop):
    product = product_by_sku(shop, "MIE-0004")
    app = make_app(shop)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot, "clerk", shop.passwords["clerk"])
        dialog = await stock_dialog(pilot, "MIE-0004", "a")
        await fill(pilot, dialog, "-2", "damaged")
        question = await wait_for(
            pilot, lambda: isinstance(app.screen, ConfirmScreen) and app.screen, "the question"
        )
        assert str(question.query_one("#confirm-amount", Label).render()) == "-2 units"
        stock = product["stock"]
        assert f"from {stock} to {stock - 2}" in str(question.query_one("#confirm-what").render())
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is dialog, "back in the dialog")
        assert (await shop_of(app).product(product["id"]))["stock"] == stock  # nothing sent

        await pilot.press("enter")  # the reason field still has the focus: ask again
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the question")
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen is not dialog, "the dialog closed")
        await wait_for(
            pilot, lambda: stock_cell(app, product["id"]) == f"{stock - 2} in stock", "-2"
        )
    assert product_by_sku(shop, "MIE-0004")["stock"] == stock - 2


async def test_taking_away_more_than_there_is_says_so_and_keeps_the_dialog(shop):
    product = product_by_sku(shop, "MIE-0005")
    stock = product["stock"]
    app = make_app(shop)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot, "clerk", shop.passwords["clerk"])
        dialog = await stock_dialog(pilot, "MIE-0005", "a")
        await fill(pilot, dialog, str(-(stock + 1)), "stock count")  # more than it shows
        problem = dialog.query_one("#stock-problem", Label)
        await wait_for(pilot, lambda: problem.display, "the refusal, before any question")
        assert f"Only {stock} units in stock" in str(problem.render())
        assert app.screen is dialog
        qty = dialog.query_one("#stock-qty", Input)
        assert qty.has_focus  # the number to put right

        qty.value = str(-stock)  # all it shows: the refusal of the number before goes
        await wait_for(pilot, lambda: not problem.display, "the old refusal gone")
        await pilot.press("enter")  # the reason is typed already: Enter applies
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the question")
        with shop.client("clerk") as other:  # meanwhile one unit goes at another station
            other.call("clerk.adjust", product_id=product["id"], delta=-1, reason="broken")
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen is dialog, "back in the dialog")
        await wait_for(
            pilot, lambda: f"Only {stock - 1} units" in str(problem.render()), "the shop's refusal"
        )
    assert product_by_sku(shop, "MIE-0005")["stock"] == stock - 1


async def test_the_low_stock_filter_keeps_products_at_or_below_the_mark(shop):
    app = make_app(shop)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot, "clerk", shop.passwords["clerk"])
        await pilot.press("f2")
        view = catalog(app)
        table = view.table
        await wait_for(pilot, lambda: view.loaded and table.row_count, "every product")
        every = table.row_count

        def only_low() -> bool:
            stocks = [p["stock"] for p in table.products.values()]
            return view.loaded and bool(stocks) and max(stocks) <= LOW_STOCK

        await pilot.press("l")
        await wait_for(pilot, only_low, "the low products alone")
        assert app.screen.query_one("#low-only", Label).display
        low = table.row_count
        said = lambda: label_text(app, "#scope")  # noqa: E731
        await wait_for(
            pilot,
            lambda: said().endswith(f"of {low}+ products") or said() == f"{low} products",
            "counted",
        )
        assert "399" not in said(), "the count is of the low products, not of every product"
        await pilot.press("l")
        await wait_for(pilot, lambda: view.loaded and table.row_count >= every, "every product")
        assert any(p["stock"] > LOW_STOCK for p in table.products.values())
