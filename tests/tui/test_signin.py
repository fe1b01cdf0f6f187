"""Signing in: password, TOTP, new accounts, a kept session, remembered server and user,
and the screens each role gets."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from textual.widgets import Checkbox, Input, Label, TabbedContent

from client_tui.screens.home import AdminScreen, CustomerScreen
from client_tui.screens.signin import SignInScreen
from client_tui.settings import Settings
from tests.totp_codes import TotpCodes
from tests.tui.pilot import (
    home_loaded,
    label_text,
    make_app,
    products,
    sign_in,
    wait_for,
)


async def test_sign_in_opens_the_shop_with_user_role_and_connection_shown(shop, customer):
    app = make_app(shop, user=customer.username)
    async with app.run_test(size=(80, 24)) as pilot:
        assert isinstance(app.screen, SignInScreen)
        assert app.screen.query_one("#username", Input).value == customer.username
        home = await sign_in(pilot, *customer)
        assert isinstance(home, CustomerScreen)
        assert label_text(app, "#status-user") == f"{customer.username} (customer)"
        assert label_text(app, "#status-link") == "● connected"
        assert label_text(app, "#status-shop") == "Warung Bu Sari (demo)"
        assert products(app).row_count == 50


async def test_a_wrong_password_says_so_and_stays(shop, customer):
    app = make_app(shop)
    async with app.run_test() as pilot:
        app.screen.query_one("#username", Input).value = customer.username
        app.screen.query_one("#password", Input).value = "not-the-password"
        await pilot.click("#signin")
        await wait_for(
            pilot,
            lambda: "wrong username or password" in label_text(app, "#signin-message").lower(),
            "the refusal",
        )
        assert isinstance(app.screen, SignInScreen)
        password = app.screen.query_one("#password", Input)
        assert password.value == "" and password.has_focus  # typed again, not edited
        assert app.screen.query_one("#username", Input).value == customer.username


async def test_a_server_that_is_not_there_reads_offline_in_words(shop):
    app = make_app(shop)
    async with app.run_test() as pilot:
        link = app.screen.query_one("#status-link", Label)
        assert not link.display  # before any try, "not signed in" alone: no alarm
        app.screen.query_one("#server", Input).value = "127.0.0.1:1"
        app.screen.query_one("#username", Input).value = "someone"
        app.screen.query_one("#password", Input).value = "whatever-it-is"
        await pilot.click("#signin")
        message = await wait_for(
            pilot, lambda: "answers" in label_text(app, "#signin-message") and app, "why"
        )
        text = label_text(message, "#signin-message")
        assert text.startswith("Nothing answers at 127.0.0.1:1. Check that the shop's server")
        assert "Connect call failed" not in text  # Python's words are not the user's
        assert label_text(app, "#status-link") == "○ offline" and link.display


async def test_create_an_account_then_shop(shop):
    username = f"new{shop.port}"
    app = make_app(shop)
    async with app.run_test() as pilot:
        app.screen.query_one("#username", Input).value = username
        app.screen.query_one("#password", Input).value = "a-new-password"
        await pilot.click("#register")
        await home_loaded(pilot)
        assert label_text(app, "#status-user") == f"{username} (customer)"


async def test_totp_field_appears_when_the_server_asks_for_a_code(shop, customer):
    username, password = customer
    with shop.client() as client:
        client.login(username, password)
        secret = client.call("auth.totp.enroll", password=password)["secret"]
        codes = TotpCodes(secret)
        client.call("auth.totp.confirm", password=password, code=codes.first())
    app = make_app(shop)
    async with app.run_test() as pilot:
        totp = app.screen.query_one("#totp", Input)
        assert not totp.display
        app.screen.query_one("#username", Input).value = username
        app.screen.query_one("#password", Input).value = password
        await pilot.click("#signin")
        await wait_for(pilot, lambda: totp.display and totp.has_focus, "the code field")
        assert "6-digit code" in label_text(app, "#signin-message")
        wrong = "000000" if codes.second() != "000000" else "111111"
        await pilot.press(*wrong, "enter")  # a wrong code: typed again, the password kept
        await wait_for(pilot, lambda: totp.value == "" and totp.has_focus, "the code emptied")
        password_field = app.screen.query_one("#password", Input)
        assert password_field.value == password
        password_field.value = "not-the-password"  # a wrong password: it is typed again
        totp.value = codes.second()
        await pilot.click("#signin")
        await wait_for(pilot, lambda: password_field.value == "", "the password emptied")
        assert password_field.has_focus and totp.value == codes.second()
        password_field.value = password
        await pilot.click("#signin")
        await home_loaded(pilot)


async def test_stay_signed_in_keeps_a_private_token_and_resumes_it(shop, customer, home: Path):
    username, password = customer
    session_file = home / "config" / "warung" / "session.json"
    app = make_app(shop)
    async with app.run_test() as pilot:
        app.screen.query_one("#stay", Checkbox).value = True
        await sign_in(pilot, username, password)
    assert stat.S_IMODE(session_file.stat().st_mode) == 0o600
    assert json.loads(session_file.read_text())["user"] == username
    remembered = json.loads((home / "config" / "warung" / "client.json").read_text())
    assert remembered == {
        "host": "127.0.0.1",
        "port": shop.port,
        "tls": False,
        "cafile": None,
        "user": username,
    }
    assert password not in (home / "config" / "warung" / "client.json").read_text()
    app = make_app(shop)  # a second run of the app
    async with app.run_test() as pilot:
        await home_loaded(pilot)  # no password typed
        assert label_text(app, "#status-user") == f"{username} (customer)"
        await app.sign_out().wait()
        await wait_for(pilot, lambda: app.screen.query("#signin-message"), "the sign-in form")
    assert not session_file.exists()  # signed out: the token is gone (and ended on the server)
    assert Settings().remembered().user == username


async def test_without_stay_signed_in_no_token_is_kept(shop, customer, home: Path):
    app = make_app(shop)
    async with app.run_test() as pilot:
        assert not app.screen.query_one("#stay", Checkbox).value
        await sign_in(pilot, *customer)
    assert not (home / "config" / "warung" / "session.json").exists()


async def test_a_kept_session_that_has_ended_asks_for_the_password(shop, customer):
    with shop.client() as client:
        token = client.login(customer.username, customer.password)["token"]
        client.logout()
    settings = Settings()
    app_target = make_app(shop).target
    settings.keep_session(app_target, customer.username, token)
    app = make_app(shop)
    async with app.run_test() as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, SignInScreen), "the form")
        # the message is mounted a level up from the fields: wait for both
        mounted = ("#signin-message", "#username")
        await wait_for(pilot, lambda: all(app.screen.query(n) for n in mounted), "the form")
        assert "session has ended" in label_text(app, "#signin-message")
        assert app.screen.query_one("#username", Input).value == customer.username
        assert settings.kept_session(app_target) is None


async def test_staff_get_the_orders_and_a_catalog_without_a_cart(shop):
    app = make_app(shop)
    async with app.run_test() as pilot:
        home = await sign_in(pilot, "admin", shop.passwords["admin"])  # clerks: test_pos.py
        assert isinstance(home, AdminScreen)
        assert label_text(app, "#status-user") == "admin (admin)"
        assert home.query_one("#tabs", TabbedContent).active == "orders"
        assert not home.query("#cart-view")
        catalog = home.query_one("#catalog-view")
        assert catalog.check_action("add", ()) is False


async def test_with_the_server_fixed_the_form_offers_none_and_signs_in_to_its_own(shop, customer):
    """A browser tab of `warung web`: its visitors cannot point the web host elsewhere."""
    app = make_app(shop, settings=None, server_fixed=True)
    async with app.run_test(size=(40, 40)) as pilot:
        server = app.screen.query_one("#server", Input)
        assert not server.display and not app.screen.query_one("#stay", Checkbox).display
        server.value = "127.0.0.1:1"  # were it changed somehow, it is not used
        await sign_in(pilot, *customer)
        assert app.target.port == shop.port


async def test_a_tap_on_a_fields_label_puts_the_typing_in_that_field(shop, customer):
    """On a phone a field is one line: a tap on its label focuses it, so the password typed
    next goes into the password field (hidden), not on the username shown in clear."""
    app = make_app(shop)
    async with app.run_test(size=(44, 30)) as pilot:
        screen = app.screen
        username = screen.query_one("#username", Input)
        await wait_for(pilot, lambda: username.has_focus, "the username field focused")
        await pilot.press(*customer.username)
        label = next(lb for lb in screen.query(Label) if str(lb.render()) == "Password")
        await pilot.click(label)
        password = screen.query_one("#password", Input)
        await wait_for(pilot, lambda: password.has_focus, "the password field focused")
        await pilot.press(*customer.password)
        assert (username.value, password.value) == (customer.username, customer.password)
        await pilot.click(next(lb for lb in screen.query(Label) if str(lb.render()) == "Username"))
        await wait_for(pilot, lambda: username.has_focus, "back in the username field")
