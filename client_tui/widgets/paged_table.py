"""A DataTable that asks for its next page when the user nears the end of what is loaded."""

from __future__ import annotations

from textual.message import Message

from client_tui.widgets.fit import FitTable


class PagedTable(FitTable):
    """Posts `NearEnd` when scrolled (by keys, wheel or scrollbar) to within a screenful of
    the last row, and after a page is added if the rows do not yet fill the view."""

    class NearEnd(Message):
        def __init__(self, table: PagedTable) -> None:
            super().__init__()
            self.table = table

        @property
        def control(self) -> PagedTable:
            return self.table

    def __init__(self, *, fill: str, minimum: int, id: str | None = None) -> None:
        super().__init__(fill=fill, minimum=minimum, id=id)
        self.more = False  # set by the owner: is there a next page to load?

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        self.check_near_end()

    def check_near_end(self) -> None:
        if self.more and self.scroll_y >= self.max_scroll_y - self.scrollable_content_region.height:
            self.post_message(self.NearEnd(self))

    def page_added(self) -> None:
        """Call after adding a page: once laid out, ask for more if the view is not full."""
        self.call_after_refresh(self.check_near_end)
