"""Calls the app makes by itself (live stock, re-reading the cart or a product): a link
error stays quiet, since the status bar shows the link; the server's refusal is shown."""

from __future__ import annotations

from client_tui.messages import CallRefused
from client_tui.screens.signin import SignInScreen
from protocol.client import ConnectionLost
from protocol.errors import Internal
from tests.e2e.harness import ServerProcess
from tests.tui.pilot import (
    Account,
    checkout_as,
    label_text,
    make_app,
    notified,
    refuse,
    search,
    shop_of,
    sign_in,
    wait_for,
)


async def test_an_internal_error_in_live_stock_is_shown_with_its_reference(shop, customer):
    app = make_app(shop)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot, *customer)
        refuse(
            shop_of(app).client,
            "stock.unsubscribe",
            Internal("internal error", {"reference": "E-41"}),
        )
        await search(pilot, "kopi susu")  # fewer rows: the others' stock is no longer watched
        note = await wait_for(pilot, lambda: notified(app, "E-41"), "the error shown")
        assert note.title == "Live stock"
        assert note.message == "The shop had an internal error (E-41)."
        assert note.severity == "error"


async def test_a_dropped_link_in_live_stock_stays_quiet(shop, customer):
    app = make_app(shop)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot, *customer)
        refused = refuse(
            shop_of(app).client, "stock.unsubscribe", ConnectionLost("stock.unsubscribe")
        )
        await search(pilot, "kopi susu")
        await wait_for(pilot, lambda: refused, "the call refused")
        # A refusal posted after it takes the same queues to the screen: once that one is
        # shown, a notice of the dropped link would have been shown before it.
        later = CallRefused(Internal("internal error", {"reference": "E-43"}), "Live stock")
        app.screen.query_one("#catalog-view").post_message(later)
        note = await wait_for(pilot, lambda: notified(app, "E-43"), "the later refusal shown")
        assert list(app._notifications) == [note]


async def test_an_internal_error_reading_the_cart_again_is_shown(
    shop: ServerProcess, customer: Account
) -> None:
    app = make_app(shop)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot, *customer)
        await wait_for(pilot, lambda: shop_of(app).cart.get("count") == 0, "the cart read")
        refuse(shop_of(app).client, "cart.get", Internal("internal error", {"reference": "E-42"}))
        checkout_as(shop, *customer, "MIE-0005", 1)  # on another device: the app reads the cart
        note = await wait_for(pilot, lambda: notified(app, "E-42"), "the error shown")
        assert note.title == "Cart"


async def test_a_session_ended_elsewhere_shows_at_once(shop, customer):
    app = make_app(shop)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot, *customer)
        await search(pilot, "MIE-0006")
        with shop.client() as other:  # the same session, ended from another device
            other.resume(shop_of(app).client.token)
            other.logout()
        # the server tells the connection (session.ended): no call needed to find out
        await wait_for(pilot, lambda: isinstance(app.screen, SignInScreen), "sign-in")
        await wait_for(pilot, lambda: app.screen.query("#signin-message"), "the form")
        assert "session has ended" in label_text(app, "#signin-message")
        assert not [n for n in app._notifications if n.title == "Signing out"]  # it had ended


async def test_an_internal_error_catching_up_after_a_reconnect_is_shown(fresh_shop):
    server = fresh_shop
    app = make_app(server)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot, "customer", server.passwords["customer"])
        await wait_for(pilot, lambda: shop_of(app).cart.get("count") == 0, "the cart read")
        refuse(shop_of(app).client, "cart.get", Internal("internal error", {"reference": "E-43"}))
        server.stop()
        await wait_for(pilot, lambda: "reconnecting" in label_text(app, "#status-link"), "down")
        server.start(server.port)
        note = await wait_for(pilot, lambda: notified(app, "E-43"), "the error shown")
        assert note.title == "Catching up"
        assert label_text(app, "#status-link") == "● connected"


async def test_a_role_changed_by_an_admin_says_so_at_the_sign_in(fresh_shop):
    with fresh_shop.client("admin") as admin:
        made = admin.call(
            "admin.user.create", username="pindah", password="pindah-pass-1", role="clerk"
        )
    app = make_app(fresh_shop)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot, "pindah", "pindah-pass-1")
        with fresh_shop.client("admin") as admin:
            admin.call("admin.user.set_role", user_id=made["user"]["id"], role="customer")
        await wait_for(pilot, lambda: isinstance(app.screen, SignInScreen), "sign-in")
        await wait_for(pilot, lambda: app.screen.query("#signin-message"), "the form")
        assert "changed this account's role" in label_text(app, "#signin-message")
