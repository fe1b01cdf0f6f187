"""The account dialog: where the account is signed in, "sign out everywhere", and a
password change (which ends every other session; this one goes on)."""

from __future__ import annotations

from typing import Any, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, DataTable, Footer, Input, Label

from client_tui.errors import CALL_ERRORS, describe, end_if_signed_out
from client_tui.shop import Shop
from client_tui.timefmt import when
from protocol.rules import PASSWORD_MIN

CHANGED = "Password changed. Your other sessions have ended; this one goes on."


def session_row(session: dict[str, Any]) -> tuple[str, ...]:
    return (
        "this one" if session["current"] else "",
        session["client"] or "?",
        session["address"] or "?",
        when(session["last_used_at"]),
        when(session["created_at"]),
    )


class AccountScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss", "Close")]

    def __init__(self, shop: Shop) -> None:
        super().__init__()
        self.shop = shop

    def compose(self) -> ComposeResult:
        with Vertical(id="account-dialog", classes="dialog") as dialog:
            dialog.border_title = f"Account {self.shop.user['username']}"
            yield Label("Signed in on", classes="account-caption")
            yield DataTable(id="account-sessions", cursor_type="none")
            with Horizontal(classes="buttons"):
                yield Button("Sign out everywhere", id="account-everywhere", variant="warning")
            yield Label("Change password", classes="account-caption")
            with Horizontal(classes="account-field"):
                yield Label("Current", classes="account-label")
                yield Input(password=True, id="account-current", compact=True)
            with Horizontal(classes="account-field"):
                yield Label("New", classes="account-label")
                yield Input(password=True, id="account-new", compact=True)
            with Horizontal(classes="buttons"):
                yield Button("Change password", id="account-change", variant="primary")
                yield Button("Close", id="account-close")
            yield Label("", id="account-message")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#account-sessions", DataTable)
        table.add_columns("", "Client", "Address", "Last used", "Signed in")
        self.query_one("#account-message").display = False
        self._load_sessions()

    @work(exclusive=True, group="account-sessions")
    async def _load_sessions(self) -> None:
        try:
            sessions = await self.shop.sessions()
        except CALL_ERRORS as error:
            self._say(describe(error))
            end_if_signed_out(self, error)
            return
        table = self.query_one("#account-sessions", DataTable)
        table.clear()
        for session in sessions:
            table.add_row(*session_row(session), key=str(session["id"]))

    @on(Button.Pressed, "#account-everywhere")
    @work(exclusive=True, group="account-change")
    async def _everywhere(self) -> None:
        try:
            await self.shop.sign_out_everywhere()
        except CALL_ERRORS as error:
            self._say(describe(error))
            end_if_signed_out(self, error)

    @on(Button.Pressed, "#account-change")
    @on(Input.Submitted, "#account-new")
    def _change_pressed(self) -> None:
        current = self.query_one("#account-current", Input).value
        new = self.query_one("#account-new", Input).value
        if not current:
            self._say("Type your current password.", "#account-current")
        elif len(new) < PASSWORD_MIN:
            self._say(f"The new password needs {PASSWORD_MIN} characters or more.", "#account-new")
        else:
            self._change(current, new)

    @work(exclusive=True, group="account-change")
    async def _change(self, current: str, new: str) -> None:
        button = self.query_one("#account-change", Button)
        button.disabled = True
        try:
            await self.shop.change_password(current, new)
        except CALL_ERRORS as error:
            wrong_current = getattr(error, "details", {}).get("field") == "password"
            self._say(describe(error), "#account-current" if wrong_current else "#account-new")
            end_if_signed_out(self, error)
            return
        finally:
            button.disabled = False
        for field in ("#account-current", "#account-new"):
            self.query_one(field, Input).value = ""
        self._say(CHANGED)
        self._load_sessions()

    def _say(self, text: str, field: str | None = None) -> None:
        """`text` under the form; `field` (to type again) focused and selected."""
        message = self.query_one("#account-message", Label)
        message.update(text)
        message.display = True
        if field is not None:
            again = self.query_one(field, Input)
            again.focus()
            again.select_all()

    @on(Button.Pressed, "#account-close")
    def _close(self) -> None:
        self.dismiss()
