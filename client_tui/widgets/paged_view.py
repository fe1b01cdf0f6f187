"""A tab that lists one of the server's paged listings (orders, people, the audit log) in a
`PagedTable`: the first page when (re)loaded, the next as the user nears the end of what
is loaded, and, for a listing no push keeps live, the first page read again every `POLL_S`
while the tab is in front.

A page the server refuses is said (`report`) and the listing stays usable: scrolling on
asks for that page again, `r` reads the listing anew, and the poll does too when the first
page was the one refused. A page that arrives after the listing was started again (a new
filter, a reload) is dropped.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any, ClassVar

from textual import work
from textual.containers import Vertical

from client_tui.errors import CALL_ERRORS, quiet_link, report
from client_tui.widgets.paged_table import PagedTable

Fetched = tuple[list[dict[str, Any]], str | None]  # the items, and the cursor of the next page


class PagedView(Vertical):
    TITLE: ClassVar[str]  # names the listing in what is said of a refused page
    POLL_S: ClassVar[float | None] = None  # read the first page again this often, if set

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._cursor: str | None = None  # the next page's; None: no more pages
        self._listing = 0  # the listing asked for last: a page of an older one is dropped
        self.loaded = False  # no page of the listing is on its way

    @property
    def table(self) -> PagedTable:
        return self.query_one(PagedTable)

    @abstractmethod
    async def fetch(self, cursor: str | None) -> Fetched:
        """A page of the listing (cursor None: the first); each tab reads its own op."""

    @abstractmethod
    def take_page(self, items: list[dict[str, Any]], first: bool) -> None:
        """Show a page's items (the first replaces what was shown)."""

    def polls(self) -> bool:
        """Whether the poll reads the listing now (a filter may list what pushes keep live)."""
        return True

    async def first_page(self) -> list[dict[str, Any]]:
        """The first page's items, as the poll reads them."""
        return (await self.fetch(None))[0]

    def polled(self, items: list[dict[str, Any]]) -> None:
        """The first page, read again by the poll (`POLL_S`) while the listing stood."""

    def on_mount(self) -> None:
        if self.POLL_S is not None:
            self.set_interval(self.POLL_S, self._poll)

    def on_show(self) -> None:
        """Back in front: catch up at once rather than at the next tick."""
        if self.POLL_S is not None:
            self._poll()

    def action_reload(self) -> None:
        self._listing += 1
        self.loaded = False
        self._load(self._listing, None)

    @work(exclusive=True, group="paged-view-page")
    async def _load(self, listing: int, cursor: str | None) -> None:
        try:
            items, next_cursor = await self.fetch(cursor)
        except CALL_ERRORS as error:
            report(self, error, self.TITLE)
            if listing == self._listing:  # scrolling on tries again; `r` reads it anew
                self.loaded = True
            return
        if listing != self._listing:
            return
        self.take_page(items, first=cursor is None)
        self._cursor = next_cursor
        self.table.more = next_cursor is not None
        self.loaded = True
        self.table.page_added()

    def on_paged_table_near_end(self, event: PagedTable.NearEnd) -> None:
        event.stop()
        if self.loaded and self._cursor is not None:
            self.loaded = False
            self._load(self._listing, self._cursor)

    @work(exclusive=True, group="paged-view-poll")
    async def _poll(self) -> None:
        if not self.loaded or not self.is_on_screen or not self.polls():
            return
        listing = self._listing
        with quiet_link(self.post_message, self.TITLE):
            items = await self.first_page()
            if listing == self._listing and self.loaded:
                self.polled(items)
