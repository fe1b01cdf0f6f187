"""The cart's quantities: keys pressed faster than the server answers, and a typed
quantity; each read back from the server by a second client."""

from __future__ import annotations

import asyncio
from typing import Any

from textual import events
from textual.widgets import Input

from client_tui.screens.checkout import CheckoutScreen
from client_tui.screens.quantity import QuantityScreen
from client_tui.widgets.cart import CartView
from client_tui.widgets.cart_table import CartTable
from tests.e2e.harness import ServerProcess
from tests.tui.pilot import (
    Account,
    label_text,
    make_app,
    notified,
    product_by_sku,
    shop_of,
    sign_in,
    wait_for,
)


def server_cart(shop: ServerProcess, account: Account) -> dict[int, int]:
    """The account's cart as the server holds it (product id: quantity)."""
    with shop.client() as client:
        client.login(*account)
        return {line["product_id"]: line["qty"] for line in client.call("cart.get")["items"]}


def fill_cart(shop: ServerProcess, account: Account, sku: str, qty: int) -> int:
    product = product_by_sku(shop, sku)
    with shop.client() as client:
        client.login(*account)
        client.call("cart.add", product_id=product["id"], qty=qty)
    return product["id"]


def watch_cart_calls(app: Any, gate: asyncio.Event | None = None) -> dict[str, Any]:
    """Record the app's cart calls: the quantities sent and the most at once. With `gate`,
    each call waits for it before it goes to the server (a slow answer)."""
    seen: dict[str, Any] = {"sent": [], "in_flight": 0, "most": 0}
    call = app.client.call

    async def counted(name: str, args: dict[str, Any] | None = None, /, **kw: Any) -> Any:
        if not name.startswith("cart.") or name == "cart.get":
            return await call(name, args, **kw)
        seen["sent"].append((name, (args or kw).get("qty")))
        seen["in_flight"] += 1
        seen["most"] = max(seen["most"], seen["in_flight"])
        try:
            if gate is not None:
                await gate.wait()
            return await call(name, args, **kw)
        finally:
            seen["in_flight"] -= 1

    app.client.call = counted
    return seen


def burst(app: Any, key: str, char: str, times: int) -> None:
    """Keys as a terminal delivers a held key: all at once, none waiting for the app
    (the pilot's `press` lets the app go idle after each key)."""
    for _ in range(times):
        event = events.Key(key, char)
        event.set_sender(app)
        app._driver.send_message(event)


async def open_cart(pilot: Any) -> Any:
    app = pilot.app
    await pilot.press("f3")
    table = app.screen.query_one("#cart-lines")
    await wait_for(pilot, lambda: table.has_focus and table.row_count, "the cart's lines")
    return table


async def test_ten_fast_presses_end_at_exactly_the_quantity_typed(shop, customer):
    product_id = fill_cart(shop, customer, "BIS-0003", 13)
    app = make_app(shop)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot, *customer)
        table = await open_cart(pilot)
        await wait_for(pilot, lambda: shop_of(app).cart["count"] == 13, "13 in the cart")
        seen = watch_cart_calls(app)
        burst(app, "minus", "-", 10)
        await wait_for(pilot, lambda: str(table.get_cell(str(product_id), "qty")) == "3", "3")
        assert str(table.get_cell(str(product_id), "qty")) == "3"  # shown at once
        assert label_text(app, "#cart-total").startswith("3 items")
        await wait_for(pilot, lambda: shop_of(app).cart["count"] == 3, "the server's answer")
        view = app.screen.query_one("#cart-view", CartView)
        await wait_for(pilot, lambda: not view.pending.products(), "nothing left to send")
        assert seen["most"] == 1  # one call at a time
        assert seen["sent"][-1] == ("cart.set", 3)
        assert str(table.get_cell(str(product_id), "qty")) == "3"
    assert server_cart(shop, customer) == {product_id: 3}


async def test_presses_while_a_call_is_in_flight_wait_for_its_answer(shop, customer):
    product_id = fill_cart(shop, customer, "BIS-0006", 2)
    app = make_app(shop)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot, *customer)
        table = await open_cart(pilot)
        slow = asyncio.Event()
        seen = watch_cart_calls(app, slow)
        view = app.screen.query_one("#cart-view", CartView)
        await pilot.press(*["plus"] * 4)
        await wait_for(pilot, lambda: seen["sent"], "the first call")
        await pilot.press(*["plus"] * 4)
        assert str(table.get_cell(str(product_id), "qty")) == "10"
        await wait_for(pilot, lambda: not view.typing, "the keys' quiet time over")
        assert len(seen["sent"]) == 1  # the newer quantity waits for the first answer
        slow.set()
        await wait_for(pilot, lambda: shop_of(app).cart["count"] == 10, "2 + 8")
        assert seen["sent"][-1] == ("cart.set", 10) and len(seen["sent"]) == 2
        assert seen["most"] == 1
    assert server_cart(shop, customer) == {product_id: 10}


async def test_enter_on_a_line_types_its_quantity(shop, customer):
    product_id = fill_cart(shop, customer, "BIS-0007", 1)
    app = make_app(shop)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot, *customer)
        await open_cart(pilot)
        await pilot.press("enter")
        dialog = await wait_for(
            pilot, lambda: isinstance(app.screen, QuantityScreen) and app.screen, "the dialog"
        )
        field = dialog.query_one("#line-qty", Input)
        assert field.has_focus and field.value == "1"
        field.value = ""
        await pilot.press("2", "5", "enter")
        await wait_for(pilot, lambda: shop_of(app).cart["count"] == 25, "25 in the cart")
    assert server_cart(shop, customer) == {product_id: 25}


async def test_check_out_sends_the_waiting_quantity_first(shop, customer):
    product_id = fill_cart(shop, customer, "BIS-0009", 1)
    app = make_app(shop)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot, *customer)
        await open_cart(pilot)
        slow = asyncio.Event()
        seen = watch_cart_calls(app, slow)
        burst(app, "plus", "+", 2)
        burst(app, "c", "c", 1)  # within the quiet time: the quantity has not gone yet
        await wait_for(pilot, lambda: seen["sent"] == [("cart.set", 3)], "sent at once")
        assert not isinstance(app.screen, CheckoutScreen)  # it waits for the answer
        slow.set()
        await wait_for(pilot, lambda: isinstance(app.screen, CheckoutScreen), "checkout")
        summary = lambda: label_text(app, "#checkout-summary")  # noqa: E731 - filled on mount
        await wait_for(pilot, summary, "the checkout's summary")
        assert summary().startswith("3 items")
    assert server_cart(shop, customer) == {product_id: 3}


async def test_one_more_than_there_is_says_the_cart_holds_the_last(shop, customer):
    stock = product_by_sku(shop, "SNK-0004")["stock"]
    product_id = fill_cart(shop, customer, "SNK-0004", stock)
    app = make_app(shop)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot, *customer)
        table = await open_cart(pilot)
        await pilot.press("plus")
        told = f"Your cart holds the last {stock} already: there are no more to add."
        note = await wait_for(pilot, lambda: notified(app, told), "why not")
        assert note.title == product_by_sku(shop, "SNK-0004")["name"], "which line it means"
        await wait_for(
            pilot, lambda: str(table.get_cell(str(product_id), "qty")) == str(stock), "put back"
        )
    assert server_cart(shop, customer) == {product_id: stock}


async def test_on_a_phone_a_long_name_shows_whole_on_its_lines(shop, customer):
    """Two sizes of one product differ at the end of the name: on a phone the cart folds
    the longest demo name onto its lines whole, its size ("180 g") included."""
    product = product_by_sku(shop, "SNK-0012")
    fill_cart(shop, customer, "SNK-0012", 1)
    app = make_app(shop)
    async with app.run_test(size=(40, 24)) as pilot:
        await sign_in(pilot, *customer)
        await pilot.press("f3")
        table = app.screen.query_one("#cart-lines", CartTable)
        await wait_for(pilot, lambda: table.row_count == 1, "the line")
        cell = str(table.get_row_at(0)[0])
        assert " ".join(cell.split()) == product["name"]
