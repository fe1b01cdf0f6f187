"""Cart and checkout: quantities, paying, a declined card, stock gone at checkout time,
and the order that comes of it (cancelled when allowed)."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from textual.widgets import Button, Input, Label, RadioButton

from client_tui.screens.checkout import CheckoutScreen
from client_tui.screens.confirm import ConfirmScreen
from client_tui.screens.order import OrderScreen
from client_tui.widgets.orders import OrdersView
from tests.tui.pilot import (
    add_by_sku,
    buy,
    label_text,
    make_app,
    new_customer,
    product_by_sku,
    shop_of,
    sign_in,
    wait_for,
)


async def open_checkout(pilot) -> CheckoutScreen:
    app = pilot.app
    await pilot.press("f3")
    await wait_for(pilot, lambda: app.screen.query_one("#cart-lines").has_focus, "the cart")
    await pilot.press("c")
    return await wait_for(
        pilot, lambda: isinstance(app.screen, CheckoutScreen) and app.screen, "checkout"
    )


async def test_change_quantities_and_remove_lines(shop, customer):
    app = make_app(shop)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot, *customer)
        await add_by_sku(pilot, "MIE-0001")
        await add_by_sku(pilot, "MIE-0002")
        await pilot.press("f3")
        await wait_for(pilot, lambda: app.screen.query_one("#cart-lines").has_focus, "cart")
        await pilot.press("plus", "plus")
        await wait_for(pilot, lambda: shop_of(app).cart["count"] == 4, "3 + 1 units")
        assert [ln["qty"] for ln in shop_of(app).cart["items"]] == [3, 1]
        await pilot.press("minus")
        await wait_for(pilot, lambda: shop_of(app).cart["count"] == 3, "2 + 1 units")
        await pilot.press("down", "x")
        await wait_for(pilot, lambda: len(shop_of(app).cart["items"]) == 1, "a line removed")
        total = shop_of(app).money.format(shop_of(app).cart["total"])
        assert label_text(app, "#cart-total") == f"2 items · Total {total}"


async def test_checkout_pays_and_shows_the_order(shop, customer):
    stock_before = product_by_sku(shop, "MIE-0004")["stock"]
    app = make_app(shop)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot, *customer)
        await add_by_sku(pilot, "MIE-0004")
        dialog = await open_checkout(pilot)
        assert dialog.query_one("#pay", Button).has_focus
        await pilot.press("enter")
        order_screen = await wait_for(
            pilot, lambda: isinstance(app.screen, OrderScreen) and app.screen, "the order"
        )
        assert order_screen.order["status"] == "paid"
        assert "Thank you" in label_text(app, "#order-thanks")
        await wait_for(pilot, lambda: shop_of(app).cart["count"] == 0, "an empty cart")
        await pilot.press("escape", "f4")
        orders = app.screen.query_one("#orders-view", OrdersView)
        await wait_for(pilot, lambda: order_screen.order["id"] in orders.orders, "the list")
        order = order_screen.order
    assert product_by_sku(shop, "MIE-0004")["stock"] == stock_before - 1
    assert [line["sku"] for line in order["lines"]] == ["MIE-0004"]


async def test_a_declined_card_loses_nothing_and_another_method_pays(shop, customer):
    stock_before = product_by_sku(shop, "MIE-0005")["stock"]
    app = make_app(shop)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot, *customer)
        await add_by_sku(pilot, "MIE-0005")
        dialog = await open_checkout(pilot)
        dialog.query_one("#token", Input).value = "decline"
        await pilot.click("#pay")
        problem = dialog.query_one("#checkout-problem", Label)
        await wait_for(pilot, lambda: problem.display, "the decline")
        text = str(problem.render())
        assert "Payment declined" in text
        assert "Nothing was charged and your cart is as it was" in text
        assert "e-wallet" in text
        assert app.screen is dialog and shop_of(app).cart["count"] == 1
        assert product_by_sku(shop, "MIE-0005")["stock"] == stock_before
        await pilot.click("#ewallet")
        await wait_for(pilot, lambda: dialog.query_one("#ewallet", RadioButton).value, "e-wallet")
        dialog.query_one("#token", Input).value = "wallet-ok"
        await pilot.click("#pay")
        order_screen = await wait_for(
            pilot, lambda: isinstance(app.screen, OrderScreen) and app.screen, "the order"
        )
        assert order_screen.order["payment"]["method"] == "ewallet"
    assert product_by_sku(shop, "MIE-0005")["stock"] == stock_before - 1


async def test_stock_gone_at_checkout_keeps_the_cart_and_offers_the_fix(shop, customer):
    app = make_app(shop)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot, *customer)
        await add_by_sku(pilot, "KOP-0010")  # 2 in stock
        await add_by_sku(pilot, "KOP-0010")
        await add_by_sku(pilot, "MIE-0006")
        buy(shop, "KOP-0010", 1)  # someone else takes one of the two
        dialog = await open_checkout(pilot)
        await pilot.click("#pay")
        problem = dialog.query_one("#checkout-problem", Label)
        await wait_for(pilot, lambda: problem.display, "the refusal")
        assert "Only 1 of" in str(problem.render())
        assert "your cart is kept" in str(problem.render())
        assert shop_of(app).cart["count"] == 3
        fix = dialog.query_one("#fix", Button)
        assert fix.display
        await pilot.click("#fix")
        await wait_for(pilot, lambda: shop_of(app).cart["count"] == 2, "the line lowered to 1")
        await pilot.click("#pay")
        await wait_for(pilot, lambda: isinstance(app.screen, OrderScreen), "the order")


async def test_a_paid_order_can_be_cancelled_from_its_detail(shop, customer):
    app = make_app(shop)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot, *customer)
        await add_by_sku(pilot, "MIE-0007")
        await open_checkout(pilot)
        await pilot.press("enter")
        order_screen = await wait_for(
            pilot, lambda: isinstance(app.screen, OrderScreen) and app.screen, "the order"
        )
        assert order_screen.query_one("#do-cancel_order", Button).display
        await pilot.press("x")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the question")
        await pilot.press("enter")
        await wait_for(pilot, lambda: order_screen.order["status"] == "cancelled", "cancel")
        assert "cancelled by you" in label_text(app, "#order-status")
        assert not order_screen.query_one("#do-cancel_order", Button).display


async def test_enter_after_an_out_of_stock_answer_fixes_the_cart(shop, customer):
    app = make_app(shop)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot, *customer)
        await add_by_sku(pilot, "KOP-0013")  # 2 in stock
        await add_by_sku(pilot, "KOP-0013")
        buy(shop, "KOP-0013", 2)  # someone else takes both
        dialog = await open_checkout(pilot)
        await pilot.press("enter")  # Pay
        await wait_for(pilot, lambda: dialog.query_one("#fix", Button).display, "Fix cart")
        assert dialog.query_one("#fix", Button).has_focus
        await pilot.press("enter")
        await wait_for(pilot, lambda: shop_of(app).cart["count"] == 0, "the sold-out line removed")
        assert app.screen is dialog
        assert label_text(app, "#checkout-problem") == (
            "Your cart is now empty: there is nothing to pay."
        )
        assert dialog.query_one("#pay", Button).disabled


async def test_a_product_archived_in_the_cart_is_no_longer_sold_and_fixed_away(shop, customer):
    gone, kept = product_by_sku(shop, "MIE-0011"), product_by_sku(shop, "MIE-0012")
    app = make_app(shop)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot, *customer)
        await add_by_sku(pilot, "MIE-0011")
        await add_by_sku(pilot, "MIE-0012")
        await pilot.press("f3")
        with shop.client("admin") as admin:
            admin.call("admin.product.archive", product_id=gone["id"])
        try:
            await wait_for(
                pilot,
                lambda: label_text(app, "#cart-problem").startswith(
                    f"No longer sold: {gone['name']}. Remove it (x)"
                ),
                "the cart saying so",
            )
            dialog = await open_checkout(pilot)
            await pilot.press("enter")  # Pay
            await wait_for(pilot, lambda: dialog.query_one("#fix", Button).display, "Fix cart")
            assert label_text(app, "#checkout-problem").startswith(
                f"{gone['name']} is no longer sold. Nothing was bought"
            )
            await pilot.press("enter")
            await wait_for(pilot, lambda: shop_of(app).cart["count"] == 1, "the line removed")
            assert label_text(app, "#checkout-problem").startswith(
                f"Cart fixed: {gone['name']} removed."
            )
            pay = str(dialog.query_one("#pay", Button).label)
            assert pay == f"Pay {shop_of(app).money.format(kept['price'])}"
        finally:
            with shop.client("admin") as admin:
                admin.call("admin.product.restore", product_id=gone["id"])


async def test_a_cancelled_order_no_longer_thanks_for_paying(shop, customer):
    app = make_app(shop)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot, *customer)
        await add_by_sku(pilot, "MIE-0008")
        await open_checkout(pilot)
        await pilot.press("enter")
        order_screen = await wait_for(
            pilot, lambda: isinstance(app.screen, OrderScreen) and app.screen, "the order"
        )
        assert label_text(app, "#order-thanks") == "Thank you! Your order is placed and paid."
        await pilot.press("x")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the question")
        await pilot.press("enter")
        await wait_for(pilot, lambda: order_screen.order["status"] == "cancelled", "cancel")
        thanks = label_text(app, "#order-thanks")
        assert "paid" not in thanks and "Thank you" not in thanks
        assert thanks == "This order is cancelled by you; its payment is refunded."


async def test_a_cart_changed_in_another_window_is_not_paid_for_unseen(shop, customer):
    """The Pay button names a total; a line added in another window meanwhile (this app
    hears nothing of it) makes the cart cost more, so the server refuses the checkout, the
    dialog says the new total and nothing is bought until Pay is pressed for it."""
    app = make_app(shop)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot, *customer)
        await add_by_sku(pilot, "MIE-0011")
        dialog = await open_checkout(pilot)
        shown = shop_of(app).cart["total"]
        pay = dialog.query_one("#pay", Button)
        assert str(pay.label) == f"Pay {shop_of(app).money.format(shown)}"
        extra = product_by_sku(shop, "MIE-0012")
        with shop.client() as other_window:
            other_window.login(*customer)
            now = other_window.call("cart.add", product_id=extra["id"], qty=1)["total"]
        assert now == shown + extra["price"]

        await pilot.click("#pay")
        problem = dialog.query_one("#checkout-problem", Label)
        await wait_for(pilot, lambda: problem.display, "the refusal")
        assert f"it now costs {shop_of(app).money.format(now)}" in str(problem.render())
        assert "Nothing was bought" in str(problem.render())
        await wait_for(pilot, lambda: str(pay.label).endswith(shop_of(app).money.format(now)), "")
        with shop.client() as other_window:
            other_window.login(*customer)
            assert other_window.call("order.list")["items"] == []

        await pilot.click("#pay")
        order_screen = await wait_for(
            pilot, lambda: isinstance(app.screen, OrderScreen) and app.screen, "the order"
        )
        assert order_screen.order["total"] == now


async def test_pay_while_another_window_pays_for_the_cart_is_refused_and_says_why(servers):
    """Another window's checkout of this cart is being paid for (a slow provider): Pay
    here is refused, naming that order, and nothing is bought twice."""
    slow = servers.start("--payment-delay", "3")
    customer = new_customer(slow)
    app = make_app(slow)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot, *customer)
        await add_by_sku(pilot, "MIE-0011")
        dialog = await open_checkout(pilot)
        with slow.client() as other_window, ThreadPoolExecutor(1) as pool:
            other_window.login(*customer)
            paying = pool.submit(other_window.checkout, {"method": "card", "token": "t"})
            await wait_for(pilot, lambda: orders_of(slow, customer), "the other window's order")
            await pilot.click("#pay")
            problem = dialog.query_one("#checkout-problem", Label)
            await wait_for(pilot, lambda: problem.display, "the refusal")
            order_id = (await asyncio.wrap_future(paying))["id"]  # the app runs meanwhile
        assert f"Order {order_id} is being paid for in another window" in str(problem.render())
        assert len(orders_of(slow, customer)) == 1, "bought once"


def orders_of(server, customer) -> list[dict]:
    with server.client() as client:
        client.login(*customer)
        return client.call("order.list")["items"]
