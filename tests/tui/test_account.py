"""The account dialog from the command palette: where the account is signed in, a password
change that ends the other sessions, and "sign out everywhere" back to the sign-in screen."""

from __future__ import annotations

import pytest
from textual.widgets import DataTable, Input

from client_tui.screens.account import CHANGED, AccountScreen
from client_tui.screens.signin import SignInScreen
from protocol.errors import Unauthenticated
from tests.e2e.harness import ServerProcess, wait_until
from tests.tui.pilot import Account, label_text, make_app, run_command, sign_in, wait_for


async def open_account(pilot) -> AccountScreen:
    app = pilot.app
    await run_command(pilot, "account", "Account")
    dialog = await wait_for(
        pilot, lambda: isinstance(app.screen, AccountScreen) and app.screen, "the dialog"
    )
    table = dialog.query_one("#account-sessions", DataTable)
    await wait_for(pilot, lambda: table.row_count >= 2, "the sessions")
    return dialog


def ended(client) -> bool:
    try:
        client.call("cart.get")
    except Unauthenticated:
        return True
    return False


async def test_it_lists_the_sessions_and_a_password_change_ends_the_others(
    shop: ServerProcess, customer: Account
):
    username, password = customer
    app = make_app(shop)
    with shop.client() as phone:
        phone.login(username, password)
        async with app.run_test(size=(100, 40)) as pilot:
            await sign_in(pilot, username, password)
            dialog = await open_account(pilot)
            table = dialog.query_one("#account-sessions", DataTable)
            rows = [table.get_row_at(i) for i in range(table.row_count)]
            assert [row[0] for row in rows] == ["this one", ""]  # newest first: the app's
            assert {row[2] for row in rows} == {"127.0.0.1"}
            dialog.query_one("#account-current", Input).value = "not-" + password
            dialog.query_one("#account-new", Input).value = "kopi-tubruk-789"
            await pilot.click("#account-change")
            message = dialog.query_one("#account-message")
            await wait_for(pilot, lambda: message.display, "the refusal")
            assert "Wrong password" in label_text(app, "#account-message")
            assert not ended(phone)

            dialog.query_one("#account-current", Input).value = password
            await pilot.click("#account-change")
            await wait_for(pilot, lambda: CHANGED in label_text(app, "#account-message"), "done")

            await wait_for(pilot, lambda: table.row_count == 1, "the other session gone")
            assert isinstance(app.screen, AccountScreen), "this session goes on"
        assert wait_until(lambda: ended(phone), what="the phone signed out")
    with shop.client() as again, pytest.raises(Unauthenticated):
        again.login(username, password)
    with shop.client() as again:
        assert again.login(username, "kopi-tubruk-789")["user"]["username"] == username


async def test_sign_out_everywhere_ends_every_session_and_shows_sign_in(
    shop: ServerProcess, customer: Account
):
    username, password = customer
    app = make_app(shop)
    with shop.client() as phone:
        phone.login(username, password)
        async with app.run_test(size=(100, 40)) as pilot:
            await sign_in(pilot, username, password)
            await open_account(pilot)
            await pilot.click("#account-everywhere")
            await wait_for(pilot, lambda: isinstance(app.screen, SignInScreen), "sign-in")
            await wait_for(pilot, lambda: app.screen.query("#signin-message"), "the form")
            assert "Signed out everywhere" in label_text(app, "#signin-message")
        assert wait_until(lambda: ended(phone), what="the phone signed out")
