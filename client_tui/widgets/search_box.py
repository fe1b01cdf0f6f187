"""The catalog's search box, with the keys that leave it: Down to the list (the search
kept), Escape to clear the search and go back to the list of everything."""

from __future__ import annotations

from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.widgets import Input


class SearchBox(Input):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("down", "to_list", "To the list", key_display="↓"),
        Binding("escape", "clear_search", "Clear search", key_display="esc"),
    ]

    def __init__(self, list_selector: str, *, placeholder: str, id: str) -> None:
        """`list_selector`: the table the keys go to, the nearest one around the box (a
        screen of tabs may hold several views with tables of that id)."""
        super().__init__(placeholder=placeholder, id=id, compact=True)
        self.list_selector = list_selector

    def action_to_list(self) -> None:
        for around in self.ancestors:
            found = around.query(self.list_selector)
            if found:
                self.screen.set_focus(found.first())
                return

    async def action_clear_search(self) -> None:
        """Empty the box; the search for everything is sent at once, as Enter would."""
        self.value = ""
        await self.action_submit()
