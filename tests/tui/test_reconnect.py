"""A server restart under a running app: the status says so, nothing crashes, the cart is
still there, and live stock resumes once it is back."""

from __future__ import annotations

import re

from textual.widgets import Label

from client_tui.screens.checkout import CheckoutScreen
from client_tui.widgets.cart_table import CartTable
from tests.tui.pilot import (
    add_by_sku,
    buy,
    label_text,
    make_app,
    notified,
    search,
    shop_of,
    sign_in,
    wait_for,
)


async def test_the_app_reconnects_after_the_server_restarts(fresh_shop):
    server = fresh_shop
    app = make_app(server)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot, "customer", server.passwords["customer"])
        await add_by_sku(pilot, "SNK-0011")
        table = await search(pilot, "SNK-001")
        key = str(next(k for k, p in table.products.items() if p["sku"] == "SNK-0011"))

        server.stop()
        await wait_for(
            pilot, lambda: "reconnecting" in label_text(app, "#status-link"), "reconnecting"
        )
        await wait_for(
            pilot,
            lambda: re.fullmatch(
                r"◌ reconnecting in \d+s · \^R now", label_text(app, "#status-link")
            ),
            "the countdown",
        )
        await pilot.press("a")  # an action while offline: said plainly, nothing breaks
        await wait_for(pilot, lambda: notified(app, "Not connected"), "why")
        await pilot.press("f3")
        lines = app.screen.query_one("#cart-lines", CartTable)
        assert lines.row_count == 1  # the cart as last seen

        server.start(server.port)
        await wait_for(pilot, lambda: label_text(app, "#status-link") == "● connected", "back")
        await wait_for(pilot, lambda: shop_of(app).cart["count"] == 1, "the cart read again")

        buy(server, "SNK-0011", 1)  # live stock works on the new connection
        await wait_for(
            pilot, lambda: str(table.get_cell(key, "stock")) == "✕ sold out", "a live update"
        )
        assert str(lines.get_cell(key, "note")) == "sold out"


async def test_a_killed_server_is_said_plainly_and_ctrl_r_retries_at_once(fresh_shop):
    server = fresh_shop
    app = make_app(server)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot, "customer", server.passwords["customer"])
        # Waits of 30-60 s between tries: only Ctrl+R can bring the link back in the test.
        client = shop_of(app).client
        client.backoff_min = client.backoff_max = 60.0
        assert "ctrl+r" not in app.screen.active_bindings  # not while connected
        server.kill()  # kill -9: no goodbye from the server
        await wait_for(
            pilot,
            lambda: notified(app, f"Lost the link to the shop (127.0.0.1:{server.port})"),
            "the loss said plainly",
        )
        await wait_for(
            pilot,
            lambda: re.fullmatch(
                r"◌ reconnecting in \d+s · \^R now", label_text(app, "#status-link")
            ),
            "the countdown",
        )
        assert app.screen.active_bindings["ctrl+r"].binding.description == "Retry now"
        server.start(server.port)
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: label_text(app, "#status-link") == "● connected", "back")
        await wait_for(pilot, lambda: "ctrl+r" not in app.screen.active_bindings, "key gone")


async def test_checkout_says_the_link_is_down_and_unsays_it_once_back(fresh_shop):
    server = fresh_shop
    app = make_app(server)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot, "customer", server.passwords["customer"])
        await add_by_sku(pilot, "SNK-0012")
        await pilot.press("f3")
        await wait_for(pilot, lambda: app.screen.query_one("#cart-lines").has_focus, "the cart")
        await pilot.press("c")
        dialog = await wait_for(
            pilot, lambda: isinstance(app.screen, CheckoutScreen) and app.screen, "checkout"
        )
        server.stop()
        await wait_for(pilot, lambda: "reconnecting" in app.link[1], "down")  # the status bar's
        await pilot.click("#pay")
        problem = dialog.query_one("#checkout-problem", Label)
        await wait_for(pilot, lambda: problem.display, "why it cannot pay")
        assert str(problem.render()).startswith("Not connected to the shop right now.")

        server.start(server.port)
        await wait_for(pilot, lambda: not problem.display, "the word gone once back", 20)
        assert app.link[1] == "● connected"
