"""Turn on two-factor sign-in: the user types the account's password (a session alone may
not), the shop gives a secret for an authenticator app, the user types the app's current
code, and the shop answers with recovery codes; from then on signing in asks for a code."""

from __future__ import annotations

from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Input, Label, Static

from client_tui.errors import CALL_ERRORS, describe, end_if_signed_out
from client_tui.shop import Shop
from client_tui.widgets.code_input import CodeInput
from protocol.errors import InvalidState

PASSWORD_FIRST = "Type your password to turn on two-factor sign-in."
ASKING = "Asking the shop for a secret…"
INSTRUCTIONS = (
    "Add this secret to your authenticator app (type it in, or use the link), then enter "
    "the 6-digit code the app shows."
)
ALREADY_ON = (
    "Two-factor sign-in is already on for this account: signing in asks for the code "
    "from your authenticator app."
)
NOW_ON = (
    "Two-factor sign-in is now on. The next time you sign in, warung asks for the 6-digit "
    "code from your authenticator app. Write down these recovery codes and keep them safe: "
    "each signs in once without the app, and they are not shown again."
)


def grouped(secret: str, size: int = 4) -> str:
    """The secret in blocks of `size` characters, easier to type into an app."""
    return " ".join(secret[i : i + size] for i in range(0, len(secret), size))


class TwoFactorScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss", "Close")]

    def __init__(self, shop: Shop) -> None:
        super().__init__()
        self.shop = shop
        self.password = ""  # kept from enroll to confirm, then forgotten

    def compose(self) -> ComposeResult:
        with Vertical(id="twofactor-dialog", classes="dialog") as dialog:
            dialog.border_title = "Two-factor sign-in"
            yield Label(PASSWORD_FIRST, id="twofactor-intro")
            with Horizontal(id="twofactor-password-row"):
                yield Label("Password", id="twofactor-password-label")
                yield Input(password=True, id="twofactor-password", compact=True)
                yield Button("Continue", id="twofactor-start", variant="primary", compact=True)
            with Vertical(id="twofactor-form"):
                yield Label("Secret", classes="twofactor-caption")
                yield Static("", id="twofactor-secret")
                yield Label("Link (otpauth)", classes="twofactor-caption")
                yield Static("", id="twofactor-uri")
                with Horizontal(id="twofactor-entry"):
                    yield Label("Code", id="twofactor-code-label")
                    yield CodeInput(id="twofactor-code")
                    yield Button("Turn on", id="twofactor-confirm", variant="primary", compact=True)
            yield Static("", id="twofactor-recovery")
            yield Label("", id="twofactor-message")
            with Horizontal(classes="buttons"):
                yield Button("Close", id="twofactor-close", compact=True)
        yield Footer()

    def on_mount(self) -> None:
        for hidden in ("#twofactor-form", "#twofactor-message", "#twofactor-recovery"):
            self.query_one(hidden).display = False
        self.set_focus(self.query_one("#twofactor-password", Input))

    @on(Button.Pressed, "#twofactor-start")
    @on(Input.Submitted, "#twofactor-password")
    def _start_pressed(self) -> None:
        password = self.query_one("#twofactor-password", Input).value
        if not password:
            self._problem("Type your password first.", "#twofactor-password")
        elif not self.query_one("#twofactor-start", Button).disabled:
            self._enroll(password)

    @work(exclusive=True, group="twofactor")
    async def _enroll(self, password: str) -> None:
        self.query_one("#twofactor-start", Button).disabled = True
        self.query_one("#twofactor-intro", Label).update(ASKING)
        try:
            enrolment = await self.shop.totp_enroll(password)
        except InvalidState as error:
            enabled = error.details.get("reason") == "totp_enabled"
            self.query_one("#twofactor-password-row").display = False
            self._done(ALREADY_ON if enabled else describe(error))
            return
        except CALL_ERRORS as error:
            self.query_one("#twofactor-intro", Label).update(PASSWORD_FIRST)
            self._problem(describe(error), "#twofactor-password")
            end_if_signed_out(self, error)
            return
        finally:
            self.query_one("#twofactor-start", Button).disabled = False
        self.password = password
        self.query_one("#twofactor-password-row").display = False
        self.query_one("#twofactor-intro", Label).update(INSTRUCTIONS)
        self.query_one("#twofactor-secret", Static).update(grouped(enrolment["secret"]))
        self.query_one("#twofactor-uri", Static).update(enrolment["uri"])
        self.query_one("#twofactor-form").display = True
        self.set_focus(self.query_one("#twofactor-code", Input))

    @on(Button.Pressed, "#twofactor-confirm")
    @on(Input.Submitted, "#twofactor-code")
    def _confirm_pressed(self) -> None:
        code = self.query_one("#twofactor-code", Input).value.strip()
        if len(code) != 6:
            self._problem("Enter the 6 digits your authenticator app shows.", "#twofactor-code")
        elif not self.query_one("#twofactor-confirm", Button).disabled:
            self._confirm(code)

    @work(exclusive=True, group="twofactor")
    async def _confirm(self, code: str) -> None:
        self._checking(True)
        try:
            codes = await self.shop.totp_confirm(self.password, code)
        except CALL_ERRORS as error:
            self._problem(describe(error), "#twofactor-code")
            end_if_signed_out(self, error)
            return
        finally:
            self._checking(False)
        self.password = ""
        self.query_one("#twofactor-form").display = False
        recovery = self.query_one("#twofactor-recovery", Static)
        recovery.update("\n".join(codes))
        recovery.display = True
        self._done(NOW_ON)

    def _checking(self, checking: bool) -> None:
        button = self.query_one("#twofactor-confirm", Button)
        button.disabled = checking
        button.label = "Checking…" if checking else "Turn on"
        if checking:
            self.query_one("#twofactor-message").display = False

    def _problem(self, text: str, field: str) -> None:
        """`text` under the form, and the `field` to type again focused and selected."""
        message = self.query_one("#twofactor-message", Label)
        message.update(text)
        message.display = True
        again = self.query_one(field, Input)
        again.focus()
        again.select_all()

    def _done(self, text: str) -> None:
        """The end of the dialog's work: only the outcome and the Close button are left."""
        self.query_one("#twofactor-intro", Label).update(text)
        self.set_focus(self.query_one("#twofactor-close", Button))

    @on(Button.Pressed, "#twofactor-close")
    def _close(self) -> None:
        self.dismiss()
