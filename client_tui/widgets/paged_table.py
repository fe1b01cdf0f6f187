"""A DataTable that asks for its next page when the user nears the end of what is loaded,
loads every page left when End is pressed, and says which rows are on screen."""

from __future__ import annotations

from textual import events
from textual.message import Message

from client_tui.listing import position
from client_tui.widgets.fit import FitTable


class PagedTable(FitTable):
    """Posts `NearEnd` when scrolled (by keys, wheel or scrollbar) to within a screenful of
    the last row, and after a page is added if the rows do not yet fill the view; `Viewed`
    when the rows on screen change."""

    class NearEnd(Message):
        def __init__(self, table: PagedTable) -> None:
            super().__init__()
            self.table = table

        @property
        def control(self) -> PagedTable:
            return self.table

    class Viewed(Message):
        """Other rows may be on screen (scrolled, resized, a page added)."""

        def __init__(self, table: PagedTable) -> None:
            super().__init__()
            self.table = table

        @property
        def control(self) -> PagedTable:
            return self.table

    def __init__(self, *, fill: str, minimum: int, id: str | None = None) -> None:
        super().__init__(fill=fill, minimum=minimum, id=id)
        self.more = False  # set by the owner: is there a next page to load?
        self.total: int | None = None  # set by the owner: rows in the whole listing, if known
        self.to_end = False  # End was pressed: load pages until the last, then go there

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        self.check_near_end()
        self.post_message(self.Viewed(self))

    def on_resize(self, event: events.Resize) -> None:  # FitTable's fits the columns
        self.post_message(self.Viewed(self))

    def check_near_end(self) -> None:
        if self.more and self.scroll_y >= self.max_scroll_y - self.scrollable_content_region.height:
            self.post_message(self.NearEnd(self))

    def page_added(self) -> None:
        """Call after adding a page: once laid out, ask for more if the view is not full
        (or End asked for every page), else go to the last row End asked for."""
        if self.to_end and self.more:
            self.post_message(self.NearEnd(self))
        elif self.to_end:
            self.to_end = False
            self.call_after_refresh(super().action_scroll_bottom)
        self.call_after_refresh(self.check_near_end)
        self.call_after_refresh(self.post_message, self.Viewed(self))

    def action_scroll_bottom(self) -> None:
        """End: the last row of the listing, not just of the pages loaded so far."""
        if self.more:
            self.to_end = True
            self.post_message(self.NearEnd(self))
        super().action_scroll_bottom()

    def action_scroll_top(self) -> None:
        self.to_end = False
        super().action_scroll_top()

    def visible_rows(self) -> tuple[int, int]:
        """The first and last row whose first line is on screen, counted from 1 (0, 0 for
        none); rows may be taller than a line."""
        top = int(self.scroll_y)
        bottom = top + max(1, self.scrollable_content_region.height - self.header_height)
        first = last = y = 0
        for index, row in enumerate(self.ordered_rows, 1):
            if y >= bottom:
                break
            if y >= top:
                first, last = first or index, index
            y += row.height
        return first, last

    def position(self) -> str:
        """ "41-90 of 399" (see `listing.position`)."""
        first, last = self.visible_rows()
        return position(first, last, self.row_count, self.total, self.more)
