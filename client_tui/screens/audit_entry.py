"""One audit entry, whole: who did what to what, when, and each of its details on a line,
amounts as money. Enter on a row of the audit log opens it; Escape closes it."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Static

from client_tui import timefmt
from client_tui.audit_text import detail_value, user_name
from client_tui.money import Money


class AuditEntryScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss(None)", "Close")]
    AUTO_FOCUS = "#audit-entry-close"

    def __init__(self, entry: dict[str, Any], money: Money) -> None:
        super().__init__()
        self.entry = entry
        self.money = money

    def compose(self) -> ComposeResult:
        entry = self.entry
        with VerticalScroll(id="audit-entry-dialog", classes="dialog") as dialog:
            dialog.border_title = f"Audit entry {entry['id']}"
            yield Static(self._text(), id="audit-entry-text")
            with Horizontal(classes="buttons"):
                yield Button("Close", id="audit-entry-close", compact=True)
        yield Footer()

    def _text(self) -> Text:
        entry = self.entry
        who = user_name(entry)
        rows = [
            ("When", timefmt.when(entry["at"])),
            ("Who", f"{who} (user {entry['user_id']})" if who else "the server"),
            ("Action", entry["action"]),
            ("Target", entry["target"] or "-"),
            *(
                (key, detail_value(key, value, self.money))
                for key, value in entry["details"].items()
            ),
        ]
        width = max(len(name) for name, _ in rows) + 2
        text = Text()
        for name, value in rows:
            text.append(name.ljust(width), style="bold")
            text.append(f"{value}\n")
        text.rstrip()
        return text

    @on(Button.Pressed, "#audit-entry-close")
    def _close(self) -> None:
        self.dismiss(None)
