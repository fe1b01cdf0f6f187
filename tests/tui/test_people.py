"""People, the admin's tab (F6), against a real server: accounts listed with role, state in
words and last sign-in; a new account whose taken name is shown next to the username;
disabling asks naming the account, signs its live session out and enabling lets it back;
a role change asks and applies. And a picture of the tab at 80x24."""

from __future__ import annotations

from typing import Any

import pytest
from textual.widgets import Button, Input, Label, RadioSet, Static

from client_tui import people, timefmt
from client_tui.screens.confirm import ConfirmScreen
from client_tui.screens.person import NewPersonScreen, RoleScreen
from client_tui.widgets import people as people_widget
from client_tui.widgets.people import PeopleView
from protocol.errors import Unauthenticated
from tests.e2e.harness import ServerProcess
from tests.tui.pilot import end_past_a_refused_page, home_loaded, make_app, notified, wait_for

PASSWORD = "people-pass-1"


def made(server: ServerProcess, username: str, role: str) -> dict[str, Any]:
    with server.client("admin") as client:
        return client.call("admin.user.create", username=username, password=PASSWORD, role=role)[
            "user"
        ]


async def people_tab(pilot, server: ServerProcess) -> PeopleView:
    app = pilot.app
    await wait_for(pilot, lambda: app.screen.query("#password"), "the sign-in form")
    app.screen.query_one("#username", Input).value = "admin"
    app.screen.query_one("#password", Input).value = server.passwords["admin"]
    await pilot.click("#signin")
    await home_loaded(pilot)
    await pilot.press("f6")
    view = pilot.app.screen.query_one(PeopleView)
    await wait_for(pilot, lambda: view.loaded, "the people listed")
    return view


def row(view: PeopleView, person: dict[str, Any]) -> list[str]:
    return [str(cell) for cell in view.table.get_row(str(person["id"]))]


async def on_row(pilot, view: PeopleView, username: str) -> dict[str, Any]:
    person = next(p for p in view.accounts.values() if p["username"] == username)
    view.table.move_cursor(row=view.table.get_row_index(str(person["id"])))
    await pilot.pause()
    return person


async def asked(pilot) -> ConfirmScreen:
    app = pilot.app
    return await wait_for(
        pilot, lambda: isinstance(app.screen, ConfirmScreen) and app.screen, "the question"
    )


async def test_people_lists_role_state_in_words_and_last_sign_in(fresh_shop):
    never = made(fresh_shop, "belum-pernah", "clerk")
    app = make_app(fresh_shop)
    async with app.run_test(size=(80, 24)) as pilot:
        view = await people_tab(pilot, fresh_shop)
        admin = next(p for p in view.accounts.values() if p["username"] == "admin")
        assert row(view, admin)[:3] == ["admin", "admin", "enabled"]
        assert row(view, admin)[3] == timefmt.when(admin["last_sign_in_at"]) != "never"
        assert row(view, never) == ["belum-pernah", "clerk", "enabled", "never"]


async def test_after_a_next_page_that_failed_end_asks_for_it_again(fresh_shop, monkeypatch):
    monkeypatch.setattr(people, "PEOPLE_PAGE", 2)
    with fresh_shop.client("admin") as admin:
        everyone = {str(p["id"]) for p in admin.call("admin.user.list", limit=100)["items"]}
    assert len(everyone) > 2
    app = make_app(fresh_shop)
    async with app.run_test(size=(80, 24)) as pilot:
        view = await people_tab(pilot, fresh_shop)
        await end_past_a_refused_page(pilot, view, "admin.user.list")
        await wait_for(pilot, lambda: set(view.accounts) == everyone, "every account")


async def test_a_sign_in_elsewhere_shows_without_a_reload(fresh_shop, monkeypatch):
    monkeypatch.setattr(people_widget, "POLL_S", 0.1)
    newcomer = made(fresh_shop, "baru-masuk", "clerk")
    app = make_app(fresh_shop)
    async with app.run_test(size=(80, 24)) as pilot:
        view = await people_tab(pilot, fresh_shop)
        assert row(view, newcomer)[3] == "never"
        with fresh_shop.client() as station:
            station.login("baru-masuk", PASSWORD)
        await wait_for(pilot, lambda: row(view, newcomer)[3] != "never", "the sign-in shown")
        signed_in = view.accounts[str(newcomer["id"])]["last_sign_in_at"]
        assert row(view, newcomer)[3] == timefmt.when(signed_in)


async def press_apply(pilot, dialog) -> None:
    """Press the dialog's button once it takes a press again: a Button ignores presses while
    it shows the last one (`-active`, 0.2 s). Pressed, not clicked: a field's problem just
    hidden moves the button up a line, and a click aimed before the new layout misses it."""
    button = dialog.query_one("#person-apply", Button)
    await wait_for(pilot, lambda: not button.has_class("-active"), "the button pressable")
    button.press()


async def test_a_taken_username_is_shown_next_to_the_field_then_the_account_is_made(
    fresh_shop,
):
    app = make_app(fresh_shop)
    async with app.run_test(size=(80, 24)) as pilot:
        view = await people_tab(pilot, fresh_shop)
        await pilot.press("n")
        dialog = await wait_for(
            pilot, lambda: isinstance(app.screen, NewPersonScreen) and app.screen, "the form"
        )
        dialog.query_one("#person-username", Input).value = "a b"
        dialog.query_one("#person-password", Input).value = "short"
        await pilot.click("#person-apply")  # the rules, before any question
        name_problem = dialog.query_one("#person-username-problem", Label)
        await wait_for(pilot, lambda: name_problem.display, "the username's rule")
        assert str(name_problem.render()).startswith("The username must be ")
        assert dialog.query_one("#person-username", Input).has_focus  # to be typed again
        dialog.query_one("#person-username", Input).value = "clerk"
        await press_apply(pilot, dialog)
        password_problem = dialog.query_one("#person-password-problem", Label)
        await wait_for(pilot, lambda: password_problem.display, "the password's rule")
        assert str(password_problem.render()) == "The password must be 8 to 128 characters."
        assert dialog.query_one("#person-password", Input).has_focus
        assert app.screen is dialog
        dialog.query_one("#person-password", Input).value = PASSWORD
        await wait_for(pilot, lambda: not password_problem.display, "the rule gone, retyped")
        await press_apply(pilot, dialog)
        question = await asked(pilot)
        assert question.title_text == "Create clerk 'clerk'?"
        await pilot.press("enter")
        problem = dialog.query_one("#person-username-problem", Label)
        await wait_for(pilot, lambda: problem.display, "the refusal by the username")
        assert "taken" in str(problem.render())
        assert not dialog.query_one("#person-other-problem", Label).display

        dialog.query_one("#person-username", Input).value = "kasir-dua"
        await wait_for(pilot, lambda: not problem.display, "the refusal gone, retyped")
        await press_apply(pilot, dialog)
        await asked(pilot)
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen is not dialog, "the form closed")
        person = await on_row(pilot, view, "kasir-dua")
        assert row(view, person)[:3] == ["kasir-dua", "clerk", "enabled"]
        assert notified(app, "kasir-dua can sign in now, as clerk.")
    with fresh_shop.client() as client:
        assert client.login("kasir-dua", PASSWORD)["user"]["role"] == "clerk"


async def test_leaving_the_new_account_form_with_a_name_typed_asks_first(fresh_shop):
    app = make_app(fresh_shop)
    async with app.run_test(size=(80, 24)) as pilot:
        await people_tab(pilot, fresh_shop)
        await pilot.press("n")
        dialog = await wait_for(
            pilot, lambda: isinstance(app.screen, NewPersonScreen) and app.screen, "the form"
        )
        await pilot.press("escape")  # nothing typed: it just closes
        await wait_for(pilot, lambda: app.screen is not dialog, "closed at once")
        await pilot.press("n")
        dialog = await wait_for(
            pilot, lambda: isinstance(app.screen, NewPersonScreen) and app.screen, "the form"
        )
        await pilot.press(*"kasir-tiga", "escape")
        question = await asked(pilot)
        assert question.title_text == "Leave without creating the account?"
        await pilot.press("escape")  # keep editing
        await wait_for(pilot, lambda: app.screen is dialog, "back in the form")
        assert dialog.query_one("#person-username", Input).value == "kasir-tiga"
        await pilot.press("escape")
        await asked(pilot)
        await pilot.press("enter")  # leave
        await wait_for(pilot, lambda: not app.screen.query("#person-dialog"), "the form gone")
    with fresh_shop.client("admin") as admin:
        names = [p["username"] for p in admin.call("admin.user.list")["items"]]
    assert "kasir-tiga" not in names


async def test_disable_asks_naming_the_account_signs_it_out_and_enable_lets_it_back(
    fresh_shop,
):
    made(fresh_shop, "mau-keluar", "clerk")
    clerk = await fresh_shop.async_client()
    await clerk.login("mau-keluar", PASSWORD)
    app = make_app(fresh_shop)
    async with app.run_test(size=(80, 24)) as pilot:
        view = await people_tab(pilot, fresh_shop)
        person = await on_row(pilot, view, "mau-keluar")
        await pilot.press("d")
        question = await asked(pilot)
        assert question.title_text == "Disable 'mau-keluar'?"
        assert "signed out everywhere" in str(question.query_one("#confirm-what", Static).render())
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, ConfirmScreen), "backed out")
        assert row(view, person)[2] == "enabled"

        await pilot.press("d")
        await asked(pilot)
        await pilot.press("enter")
        await wait_for(pilot, lambda: row(view, person)[2] == "disabled", "shown disabled")
        with pytest.raises(Unauthenticated):
            await clerk.call("order.list")  # its live session was ended
        with pytest.raises(Unauthenticated, match="disabled"):
            await clerk.login("mau-keluar", PASSWORD)

        await pilot.press("e")
        question = await asked(pilot)
        assert question.title_text == "Enable 'mau-keluar'?"
        await pilot.press("enter")
        await wait_for(pilot, lambda: row(view, person)[2] == "enabled", "shown enabled")
    try:
        assert (await clerk.login("mau-keluar", PASSWORD))["user"]["username"] == "mau-keluar"
    finally:
        await clerk.close()


async def test_a_role_change_asks_and_applies_and_changing_oneself_is_refused_at_once(
    fresh_shop,
):
    made(fresh_shop, "naik-jabatan", "customer")
    app = make_app(fresh_shop)
    async with app.run_test(size=(80, 24)) as pilot:
        view = await people_tab(pilot, fresh_shop)
        person = await on_row(pilot, view, "naik-jabatan")
        await pilot.press("o")
        dialog = await wait_for(
            pilot, lambda: isinstance(app.screen, RoleScreen) and app.screen, "the role dialog"
        )
        radios = dialog.query_one("#person-role", RadioSet)
        radios.query("RadioButton")[1].value = True  # clerk
        await pilot.click("#person-apply")
        question = await asked(pilot)
        assert question.title_text == "Make 'naik-jabatan' a clerk?"
        assert str(question.query_one("#confirm-amount", Label).render()) == "customer → clerk"
        await pilot.press("enter")
        await wait_for(pilot, lambda: row(view, person)[1] == "clerk", "the new role shown")

        await on_row(pilot, view, "admin")
        await pilot.press("d")  # refused at once, not asked first
        problem = view.query_one("#people-problem", Label)
        await wait_for(pilot, lambda: problem.display, "the refusal")
        assert not isinstance(app.screen, ConfirmScreen)
        assert str(problem.render()) == "You cannot disable your own account: ask another admin."
        await pilot.press("o")
        await wait_for(pilot, lambda: "change the role of" in str(problem.render()), "refused")
        assert not isinstance(app.screen, RoleScreen)
        await on_row(pilot, view, "naik-jabatan")
        await wait_for(pilot, lambda: not problem.display, "the refusal gone with the row")


def test_people_picture(snap_compare, fresh_shop, monkeypatch):
    monkeypatch.setattr(timefmt, "when", lambda moment: "25 Nov 09:30" if moment else "")
    made(fresh_shop, "sudah-keluar", "clerk")
    with fresh_shop.client("admin") as client:
        gone = next(
            p for p in client.call("admin.user.list")["items"] if p["username"] == "sudah-keluar"
        )
        client.call("admin.user.disable", user_id=gone["id"])

    async def run_before(pilot):
        view = await people_tab(pilot, fresh_shop)
        await on_row(pilot, view, "sudah-keluar")
        pilot.app.clear_notifications()
        await pilot.pause()

    assert snap_compare(make_app(fresh_shop), run_before=run_before, terminal_size=(80, 24))


def test_new_account_picture_with_a_refusal_by_its_field(snap_compare, fresh_shop, monkeypatch):
    monkeypatch.setattr(timefmt, "when", lambda moment: "25 Nov 09:30" if moment else "")

    async def run_before(pilot):
        app = pilot.app
        await people_tab(pilot, fresh_shop)
        await pilot.press("n")
        dialog = await wait_for(
            pilot, lambda: isinstance(app.screen, NewPersonScreen) and app.screen, "the form"
        )
        dialog.query_one("#person-username", Input).value = "kasir-baru"
        dialog.query_one("#person-password", Input).value = "kasir-baru"
        await pilot.click("#person-apply")  # refused before any question
        problem = dialog.query_one("#person-password-problem", Label)
        await wait_for(pilot, lambda: problem.display, "the refusal by the password")
        assert app.screen is dialog
        button = dialog.query_one("#person-apply", Button)
        await wait_for(pilot, lambda: not button.has_class("-active"), "the click's flash over")
        for field in dialog.query(Input):
            field.cursor_blink = False
        app.clear_notifications()
        await pilot.pause()

    assert snap_compare(make_app(fresh_shop), run_before=run_before, terminal_size=(80, 24))
