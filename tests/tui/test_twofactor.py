"""Turning on two-factor sign-in from the app: Ctrl+T or the command palette, the secret
shown for an authenticator app, the code confirmed; then signing in really needs a code."""

from __future__ import annotations

import time

import pyotp
import pytest
from textual.pilot import Pilot
from textual.widgets import Input, Static

from client_tui.screens.home import HomeScreen
from client_tui.screens.twofactor import TwoFactorScreen, grouped
from protocol.errors import Unauthenticated
from tests.e2e.harness import ServerProcess
from tests.totp_codes import TotpCodes
from tests.tui.pilot import Account, label_text, make_app, run_command, sign_in, wait_for


async def open_by_key(pilot: Pilot[None]) -> TwoFactorScreen:
    await pilot.press("ctrl+t")
    app = pilot.app
    return await wait_for(
        pilot, lambda: isinstance(app.screen, TwoFactorScreen) and app.screen, "the dialog"
    )


async def give_password(pilot: Pilot[None], dialog: TwoFactorScreen, password: str) -> None:
    """Type the account's password into the dialog, which asks for it first."""
    await wait_for(pilot, lambda: dialog.query_one("#twofactor-password", Input).has_focus, "it")
    await pilot.press(*password, "enter")


async def shown_secret(pilot: Pilot[None], dialog: TwoFactorScreen) -> str:
    """The secret as the dialog shows it, in blocks of four, without the spaces."""
    secret = dialog.query_one("#twofactor-secret", Static)
    await wait_for(pilot, lambda: str(secret.render()).strip(), "the secret")
    text = str(secret.render()).strip()
    assert all(len(block) == 4 for block in text.split(" ")), text
    return text.replace(" ", "")


def intro(pilot: Pilot[None]) -> str:
    return label_text(pilot.app, "#twofactor-intro")


def wrong_code(secret: str) -> str:
    """Six digits that are none of the codes the server accepts right now."""
    totp, now = pyotp.TOTP(secret), time.time()
    current = {totp.at(now + step * 30) for step in (-2, -1, 0, 1, 2)}
    return next(code for code in ("000000", "111111", "222222") if code not in current)


async def test_turn_it_on_with_its_key_then_signing_in_needs_a_code(
    shop: ServerProcess, customer: Account
):
    username, password = customer
    app = make_app(shop)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot, username, password)
        dialog = await open_by_key(pilot)
        await give_password(pilot, dialog, password)
        secret = await shown_secret(pilot, dialog)
        codes = TotpCodes(secret)
        uri = str(dialog.query_one("#twofactor-uri", Static).render())
        assert uri.startswith("otpauth://totp/") and f"secret={secret}" in uri
        assert dialog.query_one("#twofactor-code", Input).has_focus
        await pilot.press(*codes.first(), "enter")
        await wait_for(pilot, lambda: "now on" in intro(pilot), "the success")
        assert "next time you sign in" in intro(pilot)
        assert not dialog.query_one("#twofactor-form").display
        recovery = str(dialog.query_one("#twofactor-recovery", Static).render()).split()
        assert len(recovery) == 10 and all(len(code) == 29 for code in recovery)
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, HomeScreen), "back home")
    with shop.client() as client:
        with pytest.raises(Unauthenticated) as refused:
            client.login(username, password)
        assert refused.value.details.get("totp_required") is True
        assert client.login(username, password, codes.second())["user"]["username"] == (username)


async def test_a_wrong_code_says_so_and_the_right_one_still_works(
    shop: ServerProcess, customer: Account
):
    username, password = customer
    app = make_app(shop)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot, username, password)
        await run_command(pilot, "two-factor", "Two-factor sign-in")
        dialog = await wait_for(
            pilot, lambda: isinstance(app.screen, TwoFactorScreen) and app.screen, "dialog"
        )
        await give_password(pilot, dialog, password)
        secret = await shown_secret(pilot, dialog)
        codes = TotpCodes(secret)
        message = dialog.query_one("#twofactor-message")
        await pilot.press(*wrong_code(secret), "enter")
        await wait_for(pilot, lambda: message.display, "the refusal")
        assert "Wrong" in label_text(app, "#twofactor-message")
        assert dialog.query_one("#twofactor-form").display
        await pilot.press(*codes.first(), "enter")  # the wrong one is selected
        await wait_for(pilot, lambda: "now on" in intro(pilot), "the success")
    with shop.client() as client:
        assert client.login(username, password, codes.second())["user"]["username"] == (username)


async def test_when_it_is_already_on_the_dialog_says_so(shop: ServerProcess, customer: Account):
    username, password = customer
    app = make_app(shop)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot, username, password)
        with shop.client() as other:  # turned on from another device meanwhile
            other.login(username, password)
            secret = other.call("auth.totp.enroll", password=password)["secret"]
            other.call("auth.totp.confirm", password=password, code=TotpCodes(secret).first())
        dialog = await open_by_key(pilot)
        await give_password(pilot, dialog, password)
        await wait_for(pilot, lambda: "already on" in intro(pilot), "the answer")
        assert not dialog.query_one("#twofactor-form").display
        assert not dialog.query_one("#twofactor-message").display
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, HomeScreen), "back home")


async def test_a_wrong_password_says_so_and_shows_no_secret(shop: ServerProcess, customer: Account):
    username, password = customer
    app = make_app(shop)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot, username, password)
        dialog = await open_by_key(pilot)
        await give_password(pilot, dialog, "not-" + password)
        message = dialog.query_one("#twofactor-message")
        await wait_for(pilot, lambda: message.display, "the refusal")
        assert "Wrong password" in label_text(app, "#twofactor-message")
        assert not dialog.query_one("#twofactor-form").display
        assert dialog.query_one("#twofactor-password", Input).has_focus
    with shop.client() as client:
        assert not client.login(username, password)["user"]["totp_enabled"]


def test_the_secret_is_shown_in_blocks_of_four():
    assert grouped("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP") == (
        "JBSW Y3DP EHPK 3PXP JBSW Y3DP EHPK 3PXP"
    )
