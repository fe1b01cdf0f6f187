"""An admin's dialogs about one account: create it (username, password, role) and change
its role. Each asks before it sends, naming the account and what will happen; a refusal
is shown next to the field the server names (a taken username), and the dialog stays open
to correct it. A username or password against the rules is shown there before asking."""

from __future__ import annotations

from typing import Any, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Input, Label, RadioButton, RadioSet

from client_tui.errors import CALL_ERRORS, describe, end_if_signed_out
from client_tui.people import People
from client_tui.screens.confirm import ConfirmScreen, leave_question
from protocol.errors import WarungError
from protocol.rules import PASSWORD_MAX, PASSWORD_MIN, ROLES, password_problem, username_problem

ROLE_WORDS = {
    "customer": "a customer: shops online",
    "clerk": "a clerk: sells, ships, keeps stock",
    "admin": "an admin: all of that, and keeps the shop",
}


def role_choice(current: str | None, id: str) -> RadioSet:
    radios = RadioSet(
        *(RadioButton(ROLE_WORDS[r], value=r == current, name=r) for r in ROLES), id=id
    )
    radios.border_title = "Role"
    return radios


def chosen_role(radios: RadioSet) -> str | None:
    button = radios.pressed_button
    return None if button is None else button.name


class PersonDialog(ModalScreen[dict[str, Any] | None]):
    """What both dialogs share: a problem line per field, one for the rest, and the call
    made after the question."""

    DEFAULT_CSS = """
    PersonDialog .person-problem {
        padding: 0 1;
        width: 100%;
        border-left: thick $error;
        display: none;
    }
    PersonDialog RadioSet {
        width: 100%;
        margin-top: 1;
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "back", "Back")]
    FIELDS: tuple[str, ...] = ()

    def __init__(self, people: People) -> None:
        super().__init__()
        self.people = people
        self.busy = False

    def problem_line(self, field: str) -> Label:
        return Label("", id=f"person-{field}-problem", classes="person-problem")

    def show_problem(self, field: str, text: str) -> None:
        """`text` under `field`, which takes the focus to be typed again ("other": the last
        line)."""
        for name in (*self.FIELDS, "other"):
            line = self.query_one(f"#person-{name}-problem", Label)
            line.display = name == field
            if name == field:
                line.update(text)
        if field in self.FIELDS:
            self.query_one(f"#person-{field}").focus()

    @on(Input.Changed)
    def _retyped(self, event: Input.Changed) -> None:
        """A field typed again: what was said of it may no longer hold."""
        field = (event.input.id or "").removeprefix("person-")
        if field in self.FIELDS:
            self.query_one(f"#person-{field}-problem", Label).display = False

    def refused(self, error: BaseException) -> None:
        """The server's refusal next to the field it names, or on the last line."""
        field = error.details.get("field") if isinstance(error, WarungError) else None
        self.show_problem(field if field in self.FIELDS else "other", describe(error))
        end_if_signed_out(self, error)

    @on(Button.Pressed, "#person-back")
    def _back(self) -> None:
        self.action_back()

    def action_back(self) -> None:
        self.dismiss(None)

    @work(exclusive=True, group="person")
    async def ask_then_send(self, question: ConfirmScreen, call: Any) -> None:
        if self.busy or not await self.app.push_screen_wait(question):
            return
        self.busy = True
        try:
            done = await call()
        except CALL_ERRORS as error:
            self.refused(error)
            return
        finally:
            self.busy = False
        self.dismiss(done)


class NewPersonScreen(PersonDialog):
    """Create an account with any role. Dismissed with the new user, or None; leaving with
    a name or password typed asks first, as the product form does."""

    AUTO_FOCUS = "#person-username"
    FIELDS = ("username", "password", "role")

    @work(exclusive=True, group="person-back")
    async def action_back(self) -> None:  # type: ignore[override]  # a worker, not None
        if self.busy:  # the account is being created: leaving could not stop it
            return
        typed = any(self.query_one(f"#person-{f}", Input).value for f in ("username", "password"))
        if typed and not await self.app.push_screen_wait(
            leave_question("Leave without creating the account?")
        ):
            return
        self.dismiss(None)

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="person-dialog") as dialog:
            dialog.border_title = "New account"
            with Horizontal(classes="field-row"):
                yield Label("Username")
                yield Input(max_length=32, id="person-username", compact=True)
            yield self.problem_line("username")
            with Horizontal(classes="field-row"):
                yield Label("Password")
                yield Input(
                    password=True,
                    max_length=PASSWORD_MAX,
                    placeholder=f"{PASSWORD_MIN} to {PASSWORD_MAX} characters, hard to guess",
                    id="person-password",
                    compact=True,
                )
            yield self.problem_line("password")
            yield role_choice("clerk", "person-role")
            yield self.problem_line("role")
            yield self.problem_line("other")
            with Horizontal(classes="buttons"):
                yield Button("Create", id="person-apply", variant="primary", compact=True)
                yield Button("Back", id="person-back", compact=True)
        yield Footer()

    @on(Input.Submitted, "#person-username")
    def _username_entered(self) -> None:
        self.query_one("#person-password", Input).focus()

    @on(Input.Submitted, "#person-password")
    def _password_entered(self) -> None:
        self.query_one("#person-role", RadioSet).focus()

    @on(Button.Pressed, "#person-apply")
    def _apply(self) -> None:
        username = self.query_one("#person-username", Input).value.strip().lower()
        password = self.query_one("#person-password", Input).value
        role = chosen_role(self.query_one("#person-role", RadioSet))
        if not username:
            self.show_problem("username", "Enter a username.")
        elif problem := username_problem(username):
            self.show_problem("username", f"The {problem}.")
        elif not password:
            self.show_problem("password", "Enter a password for the account.")
        elif problem := password_problem(password, username):
            self.show_problem("password", f"The {problem}.")
        elif role is None:
            self.show_problem("role", "Choose a role.")
        else:
            question = ConfirmScreen(
                f"Create {role} '{username}'?",
                f"A new account '{username}' as {ROLE_WORDS[role]}. It can sign in at once "
                "with the password you typed: give it to them yourself.",
                f"New {role}: {username}",
                go="Create",
            )
            self.ask_then_send(question, lambda: self.people.create(username, password, role))


class RoleScreen(PersonDialog):
    """Change one account's role. Dismissed with the user as changed, or None."""

    AUTO_FOCUS = "#person-role"
    FIELDS = ("role",)

    def __init__(self, people: People, person: dict[str, Any]) -> None:
        super().__init__(people)
        self.person = person

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="person-dialog") as dialog:
            dialog.border_title = f"Role of {self.person['username']}"
            yield Label(f"Now {ROLE_WORDS[self.person['role']]}.", id="person-now")
            yield role_choice(self.person["role"], "person-role")
            yield self.problem_line("role")
            yield self.problem_line("other")
            with Horizontal(classes="buttons"):
                yield Button("Change role", id="person-apply", variant="primary", compact=True)
                yield Button("Back", id="person-back", compact=True)
        yield Footer()

    @on(Button.Pressed, "#person-apply")
    def _apply(self) -> None:
        role = chosen_role(self.query_one("#person-role", RadioSet))
        name, before = self.person["username"], self.person["role"]
        if role is None or role == before:
            self.show_problem("role", f"Choose a role other than {before}.")
            return
        question = ConfirmScreen(
            f"Make '{name}' {ROLE_WORDS[role].split(':')[0]}?",
            f"'{name}' is signed out everywhere now and works as {role} from their next sign-in.",
            f"{before} → {role}",
            go="Change role",
        )
        user_id = self.person["id"]
        self.ask_then_send(question, lambda: self.people.set_role(user_id, role))
