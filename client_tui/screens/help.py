"""`?`: the keys that work where the user is, and what each screen is for."""

from __future__ import annotations

from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import ActiveBinding, Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

ABOUT = """\
F2 Catalog · F3 Cart · F4 Orders switch tabs (staff: F2 Catalog, F4 Orders).
Tab and Shift+Tab move between fields; Enter opens what is under the cursor.
Ctrl+P opens the command palette: every action by name. Ctrl+Q quits.
The top line shows the shop, who is signed in, and the connection; the app
reconnects by itself and nothing in your cart is lost while it does."""


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,question_mark,f1,q", "dismiss", "Close")
    ]

    def __init__(self, bindings: dict[str, ActiveBinding], where: str) -> None:
        super().__init__()
        self.bindings = bindings
        self.where = where

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-dialog", classes="dialog") as dialog:
            dialog.border_title = f"Keys: {self.where}"
            yield Static(self._keys(), id="help-keys")
            yield Static(ABOUT, id="help-about")

    def _keys(self) -> Table:
        table = Table(box=None, show_header=False, pad_edge=False)
        table.add_column("key", style="bold", no_wrap=True)
        table.add_column("action")
        seen: set[str] = set()
        for active in self.bindings.values():
            binding = active.binding
            if binding.system or not binding.description or binding.description in seen:
                continue
            seen.add(binding.description)
            key = self.app.get_key_display(binding)
            table.add_row(key, Text(binding.description, style="" if active.enabled else "dim"))
        return table
