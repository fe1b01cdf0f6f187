"""The audit log, for admins: newest first, page by page, filtered, new entries live.

Filters (action prefix, user by name or #id, target, first and last day) go to
`admin.audit.list` when one of their fields is submitted (Enter). New entries appear by
polling: every `POLL_S` the first page is asked for again and the entries above the newest
shown are added. No push is needed for that, it works the same on every server of a shop,
and it costs one read of a page every few seconds while the tab is in front (docs/tui.md).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.widgets import DataTable, Input, Label

from client_tui import timefmt
from client_tui.audit_text import details, user_name
from client_tui.cut import middle_cut
from client_tui.money import Money
from client_tui.screens.audit_entry import AuditEntryScreen
from client_tui.shop import Shop
from client_tui.widgets.paged_table import PagedTable
from client_tui.widgets.paged_view import Fetched, PagedView
from protocol.ops import Op

POLL_S = 5.0
PAGE = 50
USER_WIDTH, ACTION_WIDTH, TARGET_WIDTH = 8, 20, 11  # longer ones are cut, visibly (…)


def _day(name: str) -> Callable[[str], dict[str, Any]]:
    return lambda text: {name: str(date.fromisoformat(text))}


def _user(text: str) -> dict[str, Any]:
    """A user by username, or by id as `#3` (a username may be all digits)."""
    if not text.startswith("#"):
        return {"username": text}
    if not text[1:].isdigit():
        raise ValueError(text)
    return {"user_id": int(text[1:])}


# (field id, placeholder, the arguments the typed text makes: ValueError if it cannot)
FILTERS: tuple[tuple[str, str, Callable[[str], dict[str, Any]]], ...] = (
    ("audit-action", "action starts with", lambda text: {"action": text}),
    ("audit-user", "user or #id", _user),
    ("audit-target", "target", lambda text: {"target": text}),
    ("audit-from", "from YYYY-MM-DD", _day("from")),
    ("audit-to", "to YYYY-MM-DD", _day("to")),
)


class AuditView(PagedView):
    TITLE = "Audit"
    POLL_S = POLL_S
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "reload", "Refresh"),
        Binding("slash", "filter", "Filter"),
    ]

    def __init__(self, shop: Shop, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.shop = shop
        self.entries: dict[int, dict[str, Any]] = {}
        self.filters: dict[str, Any] = {}

    def compose(self) -> ComposeResult:
        with Horizontal(id="audit-filters"):
            for field_id, placeholder, _ in FILTERS:
                yield Input(placeholder=placeholder, id=field_id, compact=True)
        yield PagedTable(fill="details", minimum=9, id="audit-table")
        yield Label("No entries.", id="audit-empty")

    def on_mount(self) -> None:
        table = self.table
        table.add_column("#", key="id", width=5)
        table.add_column("When", key="when", width=12)
        table.add_column("User", key="user", width=USER_WIDTH)
        table.add_column("Action", key="action", width=ACTION_WIDTH)
        table.add_column("Target", key="target", width=TARGET_WIDTH)
        table.add_column("Details", key="details", width=12)
        self.action_reload()

    def action_filter(self) -> None:
        self.query_one("#audit-action", Input).focus()

    @on(Input.Submitted, "#audit-filters Input")
    def _filter_submitted(self) -> None:
        filters: dict[str, Any] = {}
        for field_id, placeholder, to_args in FILTERS:
            text = self.query_one(f"#{field_id}", Input).value.strip()
            if not text:
                continue
            try:
                filters.update(to_args(text))
            except ValueError:
                self.app.notify(
                    f"{placeholder}: not {text!r}. The list keeps the filters it had.",
                    title="Audit",
                    severity="error",
                )
                return
        self.filters = filters
        self.action_reload()
        self.table.focus()

    async def fetch(self, cursor: str | None) -> Fetched:
        args: dict[str, Any] = {**self.filters, "limit": PAGE}
        if cursor is not None:
            args["cursor"] = cursor
        page = await self.shop.client.call(Op.ADMIN_AUDIT_LIST, args)
        return page["items"], page.get("next_cursor")

    def take_page(self, items: list[dict[str, Any]], first: bool) -> None:
        if first:
            self.entries.clear()
        self.entries.update((entry["id"], entry) for entry in items)
        self._draw()

    def polled(self, items: list[dict[str, Any]]) -> None:
        """Add the entries newer than the newest shown; a whole page of them may have a gap
        after it, so then the listing starts again."""
        newest = max(self.entries, default=0)
        fresh = [entry for entry in items if entry["id"] > newest]
        if items and (not self.entries or len(fresh) == len(items)):
            self.action_reload()  # a first page that failed, or a burst of over a page
        elif fresh:
            self.entries.update((entry["id"], entry) for entry in fresh)
            self._draw()
            self.table.page_added()  # a page asked for meanwhile waits on this check

    def _draw(self) -> None:
        table = self.table
        keep = table.cursor_key()
        table.clear()
        for entry_id in sorted(self.entries, reverse=True):
            table.add_row(*cells(self.entries[entry_id], self.shop.money), key=str(entry_id))
        if keep is not None and keep in table.rows:
            table.move_cursor(row=table.get_row_index(keep))
        empty = self.query_one("#audit-empty", Label)
        empty.update("No entries match these filters." if self.filters else "No entries.")
        empty.display = not self.entries

    @on(DataTable.RowSelected, "#audit-table")
    def _selected(self, event: DataTable.RowSelected) -> None:
        """Enter: the whole entry, whose details the row may cut short."""
        if event.row_key.value is None:
            return
        entry = self.entries[int(event.row_key.value)]
        self.app.push_screen(AuditEntryScreen(entry, self.shop.money))


def cells(entry: dict[str, Any], money: Money) -> list[str | Text]:
    """A row's cells; what a column cannot hold is cut visibly (…), and Enter shows the
    whole entry."""
    return [
        str(entry["id"]),
        timefmt.when(entry["at"]),
        middle_cut(user_name(entry), USER_WIDTH),
        middle_cut(entry["action"], ACTION_WIDTH),
        short_target(entry["target"] or "", TARGET_WIDTH),
        Text(details(entry, money), no_wrap=True, overflow="ellipsis"),
    ]


def short_target(target: str, width: int) -> str:
    """A `kind:id` target in `width` cells: its kind cut, never its id ("re…:1234567"),
    which a cut in the middle would make read as another id."""
    kind, colon, ident = target.partition(":")
    room = width - len(ident) - len(colon)
    if len(target) <= width or not colon or room < 2:
        return middle_cut(target, width)
    return f"{kind[: room - 1]}…:{ident}"
