"""Fulfilment, the staff's order queue, against a real server: a new paid order joins the
queue with no key pressed, shipping takes a tracking reference, a partial refund shows
its amount before it is sent, the status filter, and whose each order is."""

from __future__ import annotations

import secrets
from typing import Any

from textual.widgets import Button, Checkbox, Input, Label, Select, Static

from client_tui.screens.confirm import ConfirmScreen
from client_tui.screens.order import OrderScreen
from client_tui.screens.refund import RefundScreen
from client_tui.screens.ship import ShipScreen
from client_tui.widgets.fulfilment import FulfilmentView
from tests.tui.pilot import (
    checkout_as,
    customer_with_order,
    make_app,
    new_customer,
    notified,
    product_by_sku,
    shop_of,
    sign_in,
    wait_for,
)
from tests.tui.pos_pilot import table_text


async def queue(pilot, shop):
    """Sign in as the clerk, show Fulfilment (F4); the view once its first listing is in."""
    await sign_in(pilot, "clerk", shop.passwords["clerk"])
    await pilot.press("f4")
    view = pilot.app.screen.query_one("#orders-view")
    await wait_for(pilot, lambda: view.loaded, "the queue")
    return view


async def put_cursor_on(pilot, view, order_id: int) -> None:
    await wait_for(pilot, lambda: order_id in view.orders, f"order {order_id} listed")
    view.table.move_cursor(row=view.table.get_row_index(str(order_id)))
    view.table.focus()
    await pilot.pause()


def bought_by_card(shop, *lines: tuple[str, int]) -> tuple[str, str, dict[str, Any]]:
    """A new customer who bought `lines` (SKU, units) by card: username, password, order."""
    username, password = new_customer(shop)
    with shop.client() as client:
        client.login(username, password)
        for sku, qty in lines:
            client.call("cart.add", product_id=product_by_sku(shop, sku)["id"], qty=qty)
        return username, password, client.checkout({"method": "card", "token": "ok"})


async def refund_dialog(pilot, shop, order: dict[str, Any]) -> RefundScreen:
    """Signed in as the clerk, Fulfilment's refund dialog (`f`) of `order`."""
    view = await queue(pilot, shop)
    await put_cursor_on(pilot, view, order["id"])
    await pilot.press("f")
    app = pilot.app
    return await wait_for(
        pilot, lambda: isinstance(app.screen, RefundScreen) and app.screen, "the refund"
    )


def tab_label(app) -> str:
    return str(app.screen.query_one("#tabs").get_tab("orders").label)


async def test_a_new_paid_order_joins_the_queue_without_a_key(shop):
    app = make_app(shop)
    async with app.run_test(size=(80, 24)) as pilot:
        view = await queue(pilot, shop)
        waiting = len(view.waiting)
        await pilot.press("f2")  # at work in Inventory: the tab's title still tells
        _, _, order = customer_with_order(shop, "MIE-0020")  # paid elsewhere, meanwhile
        await wait_for(pilot, lambda: order["id"] in view.orders, "the new order in the queue")
        told = f"Fulfilment F4 · {waiting + 1}, 1 new"
        await wait_for(pilot, lambda: tab_label(app) == told, "the tab's title telling of it")
        await pilot.press("f4")
        cell = str(view.table.get_cell(str(order["id"]), "status"))
        assert cell == "paid · new"
        assert str(app.screen.query_one("#waiting", Label).render()).startswith(
            f"{waiting + 1} waiting to ship, 1 new"
        )
        keys = list(view.table.rows)
        assert keys[-1].value == str(order["id"])  # the queue is oldest first


async def test_ship_with_a_tracking_reference_then_deliver(shop):
    username, password, order = customer_with_order(shop, "MIE-0021")
    app = make_app(shop)
    async with app.run_test(size=(80, 24)) as pilot:
        view = await queue(pilot, shop)
        await put_cursor_on(pilot, view, order["id"])
        await pilot.press("s")
        dialog = await wait_for(
            pilot, lambda: isinstance(app.screen, ShipScreen) and app.screen, "the ship dialog"
        )
        name = product_by_sku(shop, "MIE-0021")["name"]
        assert str(dialog.query_one("#ship-lines").render()) == f"1 x {name} (MIE-0021)"
        dialog.query_one("#tracking", Input).value = "JNE-0042-ID"
        await pilot.press("enter")
        await wait_for(pilot, lambda: order["id"] not in view.orders, "shipped: out of the queue")
        assert notified(app, f"Order #{order['id']} is shipped, tracking JNE-0042-ID.")
        with shop.client() as client:
            client.login(username, password)
            shipped = client.call("order.get", order_id=order["id"])
        assert shipped["status"] == "shipped"
        assert shipped["tracking"] == "JNE-0042-ID"

        view.query_one("#status").value = "shipped"
        await put_cursor_on(pilot, view, order["id"])
        await pilot.press("d")
        question = await wait_for(
            pilot, lambda: isinstance(app.screen, ConfirmScreen) and app.screen, "the question"
        )
        assert question.title_text == f"Mark order #{order['id']} delivered?"
        assert "tracking JNE-0042-ID" in str(question.query_one("#confirm-what").render())
        amount = str(question.query_one("#confirm-amount", Label).render())
        assert amount.startswith(f"Order #{order['id']} · 1 item · Rp "), amount
        await pilot.press("escape")  # not yet: nothing sent
        await wait_for(pilot, lambda: not isinstance(app.screen, ConfirmScreen), "backed out")
        assert order["id"] in view.orders
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), "asked again")
        await pilot.press("enter")
        await wait_for(pilot, lambda: order["id"] not in view.orders, "delivered: filtered out")
        assert notified(app, f"Order #{order['id']} is marked delivered.")
    with shop.client() as client:
        client.login(username, password)
        assert client.call("order.get", order_id=order["id"])["status"] == "delivered"


async def test_a_partial_refund_shows_the_amount_then_refunds_those_units(shop):
    username, password, order = bought_by_card(shop, ("MIE-0022", 3), ("MIE-0023", 1))
    first = order["lines"][0]
    stock_before = product_by_sku(shop, first["sku"])["stock"]
    app = make_app(shop)
    async with app.run_test(size=(80, 24)) as pilot:
        dialog = await refund_dialog(pilot, shop, order)
        units_field = dialog.query_one(f"#refund-{first['product_id']}", Input)
        units_field.value = "9"  # more than bought
        await pilot.click("#refund")
        problem = dialog.query_one("#refund-problem", Label)
        await wait_for(pilot, lambda: problem.display, "the numbers refused")
        assert str(problem.render()) == f"{first['name']}: enter 0 to 3 units."
        units_field.value = "2"
        await wait_for(pilot, lambda: not problem.display, "the old refusal gone once retyped")
        price = shop_of(app).money.format(2 * first["unit_price"])
        amount = dialog.query_one("#refund-amount", Label)
        await wait_for(pilot, lambda: price in str(amount.render()), "the amount shown")
        assert str(amount.render()) == f"Refund 2 units: {price} to the card"
        dialog.query_one("#refund-reason", Input).value = "two packs crushed"
        dialog.query_one("#refund-reason", Input).focus()
        await pilot.press("enter")
        question = await wait_for(
            pilot, lambda: isinstance(app.screen, ConfirmScreen) and app.screen, "the question"
        )
        assert str(question.query_one("#confirm-amount", Label).render()) == f"Refund {price}"
        await pilot.press("enter")
        await wait_for(pilot, lambda: not isinstance(app.screen, RefundScreen), "refunded")
        row = str(order["id"])
        queue_view = app.screen.query_one("#orders-view", FulfilmentView)
        items = lambda: str(queue_view.table.get_cell(row, "items"))  # noqa: E731
        await wait_for(pilot, lambda: items() == "2 items", "the row's units still bought")
        assert str(queue_view.table.get_cell(row, "status")) == "part refund"
        still_paid = shop_of(app).money.format(order["total"] - 2 * first["unit_price"])
        assert str(queue_view.table.get_cell(row, "total")) == still_paid, "as the items count"
        await pilot.press("enter")
        detail = await wait_for(
            pilot, lambda: isinstance(app.screen, OrderScreen) and app.screen, "the order"
        )
        shown = table_text(detail.query_one("#order-lines", Static)).splitlines()
        left = shop_of(app).money.format(order["total"] - 2 * first["unit_price"])
        assert [row.split() for row in shown[-2:]] == [
            ["Refunded", *f"-{price}".split()],
            ["Paid", "after", "refunds", *left.split()],
        ], shown
    with shop.client() as client:
        client.login(username, password)
        refunded = client.call("order.get", order_id=order["id"])
    assert refunded["status"] == "paid"  # units remain: the status stays
    assert [line["refunded_qty"] for line in refunded["lines"]] == [2, 0]
    assert product_by_sku(shop, first["sku"])["stock"] == stock_before + 2


async def test_the_status_filter_lists_one_status(shop):
    username, password, order = customer_with_order(shop, "MIE-0024")
    with shop.client("clerk") as clerk:
        clerk.call("order.ship", order_id=order["id"])
    app = make_app(shop)
    async with app.run_test(size=(80, 24)) as pilot:
        view = await queue(pilot, shop)
        assert order["id"] not in view.orders
        view.query_one("#status").value = "shipped"
        await wait_for(pilot, lambda: view.loaded and order["id"] in view.orders, "shipped")
        assert {o["status"] for o in view.orders.values()} == {"shipped"}
        empty = view.query_one("#orders-empty", Label)  # what it says when none are shipped
        assert str(empty.render()) == "No orders: shipped. v shows another status."
        keys = [int(k.value) for k in view.table.rows]
        assert keys == sorted(keys, reverse=True)  # newest first
        checkout_as(shop, username, password, "MIE-0039", 1)  # a paid one: not shown here
        with shop.client("clerk") as clerk:
            clerk.call("order.deliver", order_id=order["id"])
        await wait_for(pilot, lambda: order["id"] not in view.orders, "delivered: filtered out")
        assert {o["status"] for o in view.orders.values()} <= {"shipped"}


async def test_refund_every_unit_from_the_order_dialog_with_the_mouse(shop):
    username, password, order = customer_with_order(shop, "MIE-0026")
    app = make_app(shop)
    async with app.run_test(size=(80, 24)) as pilot:
        view = await queue(pilot, shop)
        await put_cursor_on(pilot, view, order["id"])
        await pilot.press("enter")
        detail = await wait_for(
            pilot,
            lambda: (
                isinstance(app.screen, OrderScreen)
                and app.screen.query("#do-refund")
                and app.screen
            ),
            "the order",
        )
        await pilot.click("#do-refund")
        dialog = await wait_for(
            pilot, lambda: isinstance(app.screen, RefundScreen) and app.screen, "the refund"
        )
        await pilot.click("#refund-all")
        dialog.query_one("#refund-reason", Input).value = "customer changed their mind"
        await pilot.click("#refund")
        question = await wait_for(
            pilot, lambda: isinstance(app.screen, ConfirmScreen) and app.screen, "the question"
        )
        assert "the order becomes refunded" in str(question.query_one("#confirm-what").render())
        await pilot.click("#confirm")
        await wait_for(pilot, lambda: detail.order["status"] == "refunded", "refunded")
        assert app.screen is detail
        assert order["id"] not in view.orders  # refunded: out of the queue
    with shop.client() as client:
        client.login(username, password)
        refunded = client.call("order.get", order_id=order["id"])
    assert (refunded["status"], refunded["payment"]["status"]) == ("refunded", "refunded")


async def test_units_refunded_meanwhile_elsewhere_are_refused_in_the_dialog(shop):
    username, password = new_customer(shop)
    order = checkout_as(shop, username, password, "MIE-0027", 2)
    line = order["lines"][0]
    app = make_app(shop)
    async with app.run_test(size=(80, 24)) as pilot:
        view = await queue(pilot, shop)
        await put_cursor_on(pilot, view, order["id"])
        await pilot.press("f")
        dialog = await wait_for(
            pilot, lambda: isinstance(app.screen, RefundScreen) and app.screen, "the refund"
        )
        dialog.query_one(f"#refund-{line['product_id']}", Input).value = "2"
        dialog.query_one("#refund-reason", Input).value = "damaged"
        with shop.client("admin") as admin:  # another station refunds one unit first
            admin.call(
                "clerk.refund",
                order_id=order["id"],
                lines=[{"product_id": line["product_id"], "qty": 1}],
                reason="one damaged",
            )
        dialog.query_one("#refund-reason", Input).focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the question")
        await pilot.press("enter")
        problem = dialog.query_one("#refund-problem", Label)
        await wait_for(pilot, lambda: problem.display, "the refusal")
        assert "Nothing was refunded" in str(problem.render())
        assert app.screen is dialog
    with shop.client() as client:
        client.login(username, password)
        assert client.call("order.get", order_id=order["id"])["lines"][0]["refunded_qty"] == 1


async def test_the_queue_names_each_orders_customer(shop):
    listed_by, _, listed = customer_with_order(shop, "MIE-0029")
    app = make_app(shop)
    async with app.run_test(size=(80, 24)) as pilot:
        view = await queue(pilot, shop)
        pushed_by, _, pushed = customer_with_order(shop, "MIE-0030")  # while the queue is open
        await wait_for(pilot, lambda: pushed["id"] in view.orders, "the new order in the queue")
        for order, username in ((listed, listed_by), (pushed, pushed_by)):
            assert str(view.table.get_cell(str(order["id"]), "customer")) == username


async def test_units_not_fit_to_sell_are_refunded_without_going_back_on_sale(shop):
    username, password, order = bought_by_card(shop, ("MIE-0039", 2))
    product = product_by_sku(shop, "MIE-0039")
    stock_before = product["stock"]
    app = make_app(shop)
    async with app.run_test(size=(80, 24)) as pilot:
        dialog = await refund_dialog(pilot, shop, order)
        dialog.query_one(f"#refund-{product['id']}", Input).value = "1"
        dialog.query_one("#restock", Checkbox).value = False  # crushed: not for sale
        dialog.query_one("#refund-reason", Input).value = "crushed in the box"
        dialog.query_one("#refund-reason", Input).focus()
        await pilot.press("enter")
        question = await wait_for(
            pilot, lambda: isinstance(app.screen, ConfirmScreen) and app.screen, "the question"
        )
        assert f"1 x {product['name']}: not put back on sale" in str(
            question.query_one("#confirm-what").render()
        )
        await pilot.press("enter")
        await wait_for(pilot, lambda: not isinstance(app.screen, RefundScreen), "refunded")
    with shop.client() as client:
        client.login(username, password)
        assert client.call("order.get", order_id=order["id"])["lines"][0]["refunded_qty"] == 1
    assert product_by_sku(shop, "MIE-0039")["stock"] == stock_before, "not on sale again"


async def test_a_refund_of_an_order_not_listed_is_not_taken_for_a_new_one(shop):
    """A part refunded comes as the order still `paid`: only a checkout just paid is new."""
    _, _, paid = customer_with_order(shop, "MIE-0026")
    app = make_app(shop)
    async with app.run_test(size=(80, 24)) as pilot:
        view = await queue(pilot, shop)
        unseen = {**paid, "id": 10**9}  # paid earlier, on a page not read
        refunded = {**unseen, "lines": [{**paid["lines"][0], "refunded_qty": 1}]}
        view._order_changed(refunded)
        assert refunded["id"] not in view.new
        view._order_changed({**unseen, "id": 10**9 + 1})
        assert 10**9 + 1 in view.new


async def test_a_filter_chosen_by_keys_gives_the_keys_back_to_the_orders(shop):
    app = make_app(shop)
    async with app.run_test(size=(80, 24)) as pilot:
        view = await queue(pilot, shop)
        await pilot.press("v")
        select = view.query_one("#status", Select)
        await wait_for(pilot, lambda: select.expanded, "the Show list open")
        await pilot.press("down", "enter")
        await wait_for(pilot, lambda: view.status == "shipped", "the filter chosen")
        await wait_for(pilot, lambda: view.table.has_focus, "the orders with the keys")
        assert not select.expanded


async def test_on_a_phone_the_refund_dialog_shows_names_whole_and_every_button(shop):
    with shop.client("customer") as client:
        items = client.call("catalog.list", limit=100)["items"]
    longest = sorted((p for p in items if p["stock"] > 5), key=lambda p: -len(p["name"]))[:3]
    _, _, order = bought_by_card(shop, *((p["sku"], 1) for p in longest))
    app = make_app(shop)
    async with app.run_test(size=(40, 24)) as pilot:
        dialog = await refund_dialog(pilot, shop, order)
        await pilot.pause()
        labels = dialog.query(".refund-name").results(Label)
        shown = [
            " ".join(line.text for line in label.render_lines(label.size.region))
            for label in labels
        ]
        assert [" ".join(name.split()) for name in shown] == [p["name"] for p in order["lines"]]
        for button in dialog.query(".buttons Button").results(Button):
            assert button.region.bottom <= 23 and button.region.right <= 40, button.id


async def test_the_point_of_sale_filter_shows_sales_rung_up_at_another_till(shop):
    """Point-of-sale sales send no events: the filter reads its newest page again while the
    tab is in front, so a sale rung up elsewhere joins it and one refunded whole leaves."""
    app = make_app(shop)
    async with app.run_test(size=(100, 24)) as pilot:
        view = await queue(pilot, shop)
        view.query_one("#status").value = "completed"
        await wait_for(pilot, lambda: view.loaded and view.status == "completed", "the filter")
        with shop.client("clerk") as till:
            till.call("clerk.register.open", station="fulfilment-test", opening_cash=0)
            product = product_by_sku(shop, "MIE-0031")
            sale = till.call(
                "clerk.sale",
                lines=[{"product_id": product["id"], "qty": 1}],
                payment={"method": "cash", "tendered": product["price"]},
                idempotency_key=secrets.token_hex(8),
            )
            await wait_for(pilot, lambda: sale["id"] in view.orders, "the sale listed", 15)
            assert str(sale["id"]) in view.table.rows
            refund = [{"product_id": product["id"], "qty": 1}]
            till.call("clerk.refund", order_id=sale["id"], lines=refund, reason="changed mind")
            await wait_for(pilot, lambda: sale["id"] not in view.orders, "refunded: gone", 15)
            till.call("clerk.register.close", counted_cash=0)
        assert {order["status"] for order in view.orders.values()} <= {"completed"}
