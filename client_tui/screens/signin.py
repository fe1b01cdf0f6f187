"""Sign in, or create an account: server, username, password, and a TOTP code when the
server asks for one. A kept session (\"stay signed in\") is resumed without a password."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, TypeVar, cast

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Center, Grid, Horizontal, Vertical
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Button, Checkbox, Footer, Input, Label

from client_tui.connection import Target
from client_tui.errors import CALL_ERRORS, LINK_ERRORS, describe
from client_tui.settings import KeptSession
from client_tui.widgets.code_input import CodeInput
from client_tui.widgets.status import StatusBar
from protocol.errors import Unauthenticated
from protocol.ops import Op

if TYPE_CHECKING:
    from client_tui.app import WarungApp

W = TypeVar("W", bound=Widget)


class SignInScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("ctrl+n", "register", "Create account")]

    def __init__(
        self,
        *,
        user: str = "",
        notice: str = "",
        kept: KeptSession | None = None,
    ) -> None:
        """`kept`: the session kept for this server, which *Sign in* with no password
        resumes (the app itself tries it first, before this screen shows)."""
        super().__init__()
        self.user = user
        self.notice = notice
        self.kept = kept

    @property
    def warung(self) -> WarungApp:
        return cast("WarungApp", self.app)

    def compose(self) -> ComposeResult:
        yield StatusBar()
        with Center(id="signin-center"), Vertical(id="signin-box", classes="dialog") as box:
            box.border_title = "Sign in to warung"
            with Grid(id="signin-fields"):
                server = Input(self.warung.target.address, id="server", compact=True)
                yield shown(Label("Server"), not self.warung.server_fixed)
                yield shown(server, not self.warung.server_fixed)
                yield Label("Username")
                yield Input(self.user, id="username", compact=True)
                yield Label("Password")
                yield Input(password=True, id="password", compact=True)
                yield hidden(Label("Code", id="totp-label"))
                yield hidden(CodeInput(id="totp"))
            stay = Checkbox("Stay signed in", value=self.kept is not None, id="stay")
            stay.display = self.warung.settings is not None
            yield stay
            with Horizontal(classes="buttons"):
                yield Button("Sign in", id="signin", variant="primary", compact=True)
                yield Button("Create account", id="register", compact=True)
            yield Label(self.notice, id="signin-message")
        yield Footer()

    def on_screen_resume(self) -> None:
        """Focus the first field to fill, once the screen is shown (its fields mounted)."""
        for field in self.query("#password" if self.user else "#username"):
            self.set_focus(field)

    def _show_totp(self, shown: bool) -> None:
        self.query_one("#totp-label", Label).display = shown
        self.query_one("#totp", Input).display = shown

    def _say(self, text: str) -> None:
        self.query_one("#signin-message", Label).update(text)

    def _busy(self, busy: bool) -> None:
        for button in self.query(Button):
            button.disabled = busy

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        following = {"server": "#username", "username": "#password"}
        if event.input.id in following:
            self.set_focus(self.query_one(following[event.input.id], Input))
        elif event.input.id == "password" and self.query_one("#totp", Input).display:
            self.set_focus(self.query_one("#totp", Input))
        else:
            self._sign_in(register=False)

    @on(Button.Pressed, "#signin")
    def _signin_pressed(self) -> None:
        self._sign_in(register=False)

    @on(Button.Pressed, "#register")
    def action_register(self) -> None:
        self._sign_in(register=True)

    @work(exclusive=True, group="signin")
    async def _sign_in(self, register: bool) -> None:
        try:
            target = self._target()
        except ValueError as error:
            self._say(f"Server: {error}. Write host:port, e.g. 127.0.0.1:7411.")
            return
        username = self.query_one("#username", Input).value.strip().lower()
        password = self.query_one("#password", Input).value
        totp = self.query_one("#totp", Input).value.strip() or None
        kept = self.warung.kept_session(target)
        if not password and not register and kept is not None and kept.user == username:
            self._busy(True)
            self._say(f"Resuming the session of {kept.user}…")
            self.warung.resume(kept)
            return
        if not username or not password:
            self._say("Enter your username and password.")
            return
        self._busy(True)
        self._say("Creating your account…" if register else "Signing in…")
        try:
            client = await self.warung.connect(target)
            if register:
                await client.call(Op.AUTH_REGISTER, username=username, password=password)
            result = await client.login(username, password, totp)
        except Unauthenticated as error:
            self._retype(bool(error.details.get("totp_required")), totp is not None)
            self._say(describe(error))
            return
        except CALL_ERRORS as error:
            hint = self.warung.unreachable_hint() if isinstance(error, LINK_ERRORS) else ""
            self._say(describe(error, target.address) + hint)
            return
        finally:
            self._busy(False)
        self.warung.signed_in(result["user"], result["token"], self._stay)

    def _retype(self, code_asked: bool, code_sent: bool) -> None:
        """After a refusal, the field to type in again, emptied: the code when the server
        asks for one (a wrong code, or none yet: the field shows), else the password."""
        if code_asked:
            self._show_totp(True)
        field = self.query_one("#totp" if code_asked else "#password", Input)
        if code_sent or not code_asked:
            field.value = ""
        self.set_focus(field)

    def _target(self) -> Target:
        """The server typed, unless the app's server is fixed."""
        if self.warung.server_fixed:
            return self.warung.target
        return self.warung.target.with_address(self.query_one("#server", Input).value)

    @property
    def _stay(self) -> bool:
        return self.query_one("#stay", Checkbox).value


def hidden(widget: W) -> W:
    """`widget`, not shown until asked for. Set before it is mounted: the screen may be
    shown (a kept session refused at once) before its nested widgets are mounted."""
    return shown(widget, False)


def shown(widget: W, display: bool) -> W:
    widget.display = display
    return widget
