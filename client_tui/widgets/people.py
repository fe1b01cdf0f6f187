"""People, for admins: every account with its role, whether it is disabled (in words),
and its last sign-in; create an account, change a role, disable and enable again, each
after a question that names the account and what will happen (one's own role and state are
refused at once: the server would refuse them after the question).

Sign-ins and changes made at another station show by polling, as the audit log's entries
do: every `POLL_S` while the tab is in front (and at once when it comes to the front) the
first page is read again and its accounts updated in place."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Label

from client_tui import timefmt
from client_tui.errors import CALL_ERRORS, describe, end_if_signed_out
from client_tui.people import People
from client_tui.screens.confirm import ConfirmScreen
from client_tui.screens.person import NewPersonScreen, RoleScreen
from client_tui.shop import Shop
from client_tui.widgets.paged_table import PagedTable
from client_tui.widgets.paged_view import Fetched, PagedView

POLL_S = 10.0


class PeopleView(PagedView):
    TITLE = "People"
    POLL_S = POLL_S
    DEFAULT_CSS = """
    PeopleView #people-problem {
        padding: 0 1;
        width: 100%;
        border-left: thick $error;
        display: none;
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("n", "new", "New account"),
        Binding("o", "role", "Role"),
        Binding("d", "disable(True)", "Disable"),
        Binding("e", "disable(False)", "Enable"),
        Binding("r", "reload", "Refresh"),
    ]

    def __init__(self, shop: Shop, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.shop = shop
        self.people = People(shop.client)
        self.accounts: dict[str, dict[str, Any]] = {}
        self._problem_of: str | None = None  # the row the refusal under the table is about

    def compose(self) -> ComposeResult:
        yield PagedTable(fill="username", minimum=12, id="people-table")
        yield Label("", id="people-problem")

    @property
    def current(self) -> dict[str, Any] | None:
        key = self.table.cursor_key()
        return None if key is None else self.accounts.get(key)

    def on_mount(self) -> None:
        table = self.table
        table.add_column("Username", key="username", width=12)
        table.add_column("Role", key="role", width=8)
        table.add_column("Account", key="state", width=8)
        table.add_column("Last sign-in", key="last", width=12)
        self.action_reload()

    async def fetch(self, cursor: str | None) -> Fetched:
        return await self.people.page(cursor)

    def take_page(self, items: list[dict[str, Any]], first: bool) -> None:
        if first:
            self.accounts.clear()
        self.accounts.update((str(person["id"]), person) for person in items)
        self._draw()

    def polled(self, items: list[dict[str, Any]]) -> None:
        """Update the accounts of the first page (a sign-in, a role changed at another
        station; an account made there, if it sorts into that page)."""
        fresh = {str(person["id"]): person for person in items}
        if not self.accounts and fresh:  # the first page failed: read the list anew
            self.action_reload()
        elif any(self.accounts.get(key) != person for key, person in fresh.items()):
            self.accounts.update(fresh)
            self._draw()

    @on(PagedTable.RowHighlighted, "#people-table")
    def _moved(self) -> None:
        self.screen.refresh_bindings()  # Disable or Enable, as the account under the cursor
        if self.table.cursor_key() != self._problem_of:  # a redraw keeps the cursor's row
            self.query_one("#people-problem", Label).display = False

    def _say(self, text: str) -> None:
        """A refusal without a dialog field to sit by, under the table, about the account
        under the cursor: it goes when the cursor moves to another."""
        self._problem_of = self.table.cursor_key()
        problem = self.query_one("#people-problem", Label)
        problem.update(text)
        problem.display = True

    def _mine(self, person: dict[str, Any], what: str) -> bool:
        """Whether `person` is the admin at this app, said at once (the server refuses it):
        asking first and refusing after read as a change that failed."""
        if person["id"] != self.shop.user["id"]:
            return False
        self._say(f"You cannot {what} your own account: ask another admin.")
        return True

    def _draw(self) -> None:
        table, keep = self.table, self.table.cursor_key()
        table.clear()
        for key, person in sorted(self.accounts.items(), key=lambda kv: kv[1]["username"]):
            table.add_row(*_cells(person), key=key)
        if keep is not None and keep in table.rows:
            table.move_cursor(row=table.get_row_index(keep))
        self.screen.refresh_bindings()

    def _changed(self, person: dict[str, Any] | None) -> None:
        """A dialog's or question's outcome: the account as the server now has it."""
        if person is None:
            return
        self.query_one("#people-problem", Label).display = False
        previous = self.accounts.get(str(person["id"]), {})
        self.accounts[str(person["id"])] = {**previous, **person}
        self._draw()
        self.table.move_cursor(row=self.table.get_row_index(str(person["id"])))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        person = self.current
        if action == "role":
            return person is not None or None
        if action == "disable":
            return person is not None and person["disabled"] is not parameters[0]
        return True

    def action_new(self) -> None:
        self.app.push_screen(NewPersonScreen(self.people), self._created)

    def _created(self, person: dict[str, Any] | None) -> None:
        if person is not None:
            what = f"{person['username']} can sign in now, as {person['role']}."
            self.notify(what, title="Account created")
        self._changed(person)

    def action_role(self) -> None:
        if (person := self.current) is not None and not self._mine(person, "change the role of"):
            self.app.push_screen(RoleScreen(self.people, person), self._changed)

    def action_disable(self, disabled: bool) -> None:
        person = self.current
        if person is None or person["disabled"] is disabled:
            return
        if not (disabled and self._mine(person, "disable")):
            self._disable(person, disabled)

    @work(exclusive=True, group="people-disable")
    async def _disable(self, person: dict[str, Any], disabled: bool) -> None:
        if not await self.app.push_screen_wait(_disable_question(person, disabled)):
            return
        try:
            changed = await self.people.set_disabled(person["id"], disabled)
        except CALL_ERRORS as error:
            self._say(f"{person['username']}: {describe(error)}")
            end_if_signed_out(self, error)
            return
        self._changed(changed)


def _disable_question(person: dict[str, Any], disabled: bool) -> ConfirmScreen:
    name = person["username"]
    if disabled:
        return ConfirmScreen(
            f"Disable '{name}'?",
            f"'{name}' ({person['role']}) is signed out everywhere now and cannot sign in "
            "until an admin enables the account again.",
            f"Disable {name}",
            go="Disable",
        )
    return ConfirmScreen(
        f"Enable '{name}'?",
        f"'{name}' ({person['role']}) can sign in again with their password. Sessions "
        "ended by the disabling stay ended.",
        f"Enable {name}",
        go="Enable",
    )


def _cells(person: dict[str, Any]) -> list[Any]:
    state = Text("disabled", style="bold") if person["disabled"] else Text("enabled")
    return [
        Text(person["username"], no_wrap=True, overflow="ellipsis"),
        person["role"],
        state,
        timefmt.when(person.get("last_sign_in_at")) or "never",
    ]
