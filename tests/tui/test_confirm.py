"""Asking before what cannot be undone: the customer's cancel names the refund, Escape
keeps the order, Enter (or the mouse) cancels it, against a real server."""

from __future__ import annotations

from textual.widgets import Label, Static

from client_tui.screens.confirm import ConfirmScreen
from client_tui.screens.order import OrderScreen
from tests.tui.pilot import customer_with_order, make_app, orders_listing, shop_of, wait_for


def status_on_server(shop, username: str, password: str, order_id: int) -> str:
    with shop.client() as client:
        client.login(username, password)
        return client.call("order.get", order_id=order_id)["status"]


async def asked(pilot) -> ConfirmScreen:
    app = pilot.app
    return await wait_for(
        pilot, lambda: isinstance(app.screen, ConfirmScreen) and app.screen, "the question"
    )


async def test_cancel_from_the_list_asks_escape_keeps_enter_cancels(shop):
    username, password, order = customer_with_order(shop, "MIE-0011")
    app = make_app(shop)
    async with app.run_test(size=(80, 24)) as pilot:
        orders = await orders_listing(pilot, username, password, order["id"])
        orders.table.move_cursor(row=orders.table.get_row_index(str(order["id"])))
        await pilot.press("x")
        question = await asked(pilot)
        total = shop_of(app).money.format(order["total"])
        assert str(question.query_one("#confirm-amount", Label).render()) == f"Refund {total}"
        what = str(question.query_one("#confirm-what", Static).render())
        assert "1 unit back on sale" in what and "your card" in what
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, ConfirmScreen), "backed out")
        # on the app's own connection, after anything it sent before: no cancel went out
        assert (await shop_of(app).order(order["id"]))["status"] == "paid"
        assert orders.orders[order["id"]]["status"] == "paid"

        await pilot.press("x")
        await asked(pilot)
        await pilot.press("enter")
        await wait_for(
            pilot, lambda: orders.orders[order["id"]]["status"] == "cancelled", "the cancel"
        )
    assert status_on_server(shop, username, password, order["id"]) == "cancelled"


async def test_cancel_from_the_order_works_with_the_mouse(shop):
    username, password, order = customer_with_order(shop, "MIE-0012")
    app = make_app(shop)
    async with app.run_test(size=(80, 24)) as pilot:
        orders = await orders_listing(pilot, username, password, order["id"])
        orders.table.move_cursor(row=orders.table.get_row_index(str(order["id"])))
        orders.action_open()
        detail = await wait_for(
            pilot,
            lambda: (
                isinstance(app.screen, OrderScreen)
                and app.screen.query("#do-cancel_order")
                and app.screen
            ),
            "the order",
        )
        await pilot.click("#do-cancel_order")
        await asked(pilot)
        await pilot.click("#back")
        await wait_for(pilot, lambda: app.screen is detail, "back at the order")
        assert (await shop_of(app).order(order["id"]))["status"] == "paid"

        await pilot.click("#do-cancel_order")
        await asked(pilot)
        await pilot.click("#confirm")
        await wait_for(pilot, lambda: detail.order["status"] == "cancelled", "the cancel")
    assert status_on_server(shop, username, password, order["id"]) == "cancelled"
