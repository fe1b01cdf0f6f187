"""The sales report's two dialogs: a range of days, and where to save the CSV export.

Each stays open on a mistake, saying what is wrong, so the admin can correct it.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Input, Label

from client_tui.report import parse_range, write_csv
from client_tui.screens.confirm import ConfirmScreen


class RangeScreen(ModalScreen[tuple[date, date] | None]):
    """Dismissed with the first and last day chosen, or None."""

    AUTO_FOCUS = "#range-from"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss(None)", "Back")]

    def __init__(self, first: date, last: date) -> None:
        super().__init__()
        self.first = first
        self.last = last

    def compose(self) -> ComposeResult:
        with Vertical(id="range-dialog", classes="dialog") as dialog:
            dialog.border_title = "Sales of the days (UTC)"
            with Horizontal(classes="field-row"):
                yield Label("First day")
                yield Input(self.first.isoformat(), max_length=10, id="range-from", compact=True)
            with Horizontal(classes="field-row"):
                yield Label("Last day")
                yield Input(self.last.isoformat(), max_length=10, id="range-to", compact=True)
            yield Label("", id="range-problem")
            with Horizontal(classes="buttons"):
                yield Button("Show", id="range-show", variant="primary", compact=True)
                yield Button("Back", id="range-back", compact=True)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#range-problem", Label).display = False

    @on(Input.Submitted, "#range-from")
    def _first_entered(self) -> None:
        self.query_one("#range-to", Input).focus()

    @on(Input.Changed)
    def _retyped(self) -> None:
        """What the problem line said was of the days as they were: it goes once one
        changes, and Show says again what is wrong, if anything still is."""
        self.query_one("#range-problem", Label).display = False

    @on(Button.Pressed, "#range-back")
    def _back(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#range-show")
    @on(Input.Submitted, "#range-to")
    def _show(self) -> None:
        typed = (self.query_one(f"#range-{end}", Input).value for end in ("from", "to"))
        try:
            self.dismiss(parse_range(*typed))
        except ValueError as problem:
            label = self.query_one("#range-problem", Label)
            label.update(str(problem))
            label.display = True


class ExportScreen(ModalScreen[Path | None]):
    """Asks where to save the report as CSV and saves it there, asking first before it
    replaces a file; dismissed with the file written, or None."""

    AUTO_FOCUS = "#export-path"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss(None)", "Back")]

    def __init__(self, report: dict[str, Any], exponent: int, path: Path) -> None:
        super().__init__()
        self.report = report
        self.exponent = exponent
        self.path = path

    def compose(self) -> ComposeResult:
        with Vertical(id="export-dialog", classes="dialog") as dialog:
            dialog.border_title = f"Export {self.report['from']} to {self.report['to']} as CSV"
            yield Label("Save to")
            yield Input(str(self.path), id="export-path", compact=True)
            yield Label("", id="export-problem")
            with Horizontal(classes="buttons"):
                yield Button("Save", id="export-save", variant="primary", compact=True)
                yield Button("Back", id="export-back", compact=True)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#export-problem", Label).display = False

    @on(Button.Pressed, "#export-back")
    def _back(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#export-save")
    @on(Input.Submitted, "#export-path")
    def _save(self) -> None:
        typed = self.query_one("#export-path", Input).value.strip()
        path = Path(typed).expanduser()
        if not typed or path.is_dir():
            self._problem("Type the path of a file, e.g. ~/sales.csv.")
        elif path.exists():
            question = ConfirmScreen(
                f"Replace {path.name}?",
                f"{path} exists: the report replaces what it holds.",
                str(path.parent),
                go="Replace",
            )
            self.app.push_screen(question, lambda replace: self._write(path) if replace else None)
        else:
            self._write(path)

    def _write(self, path: Path) -> None:
        try:
            write_csv(path, self.report, self.exponent)
        except OSError as error:
            self._problem(f"Cannot save there: {error.strerror or error}. Try another path.")
        else:
            self.dismiss(path)

    def _problem(self, text: str) -> None:
        problem = self.query_one("#export-problem", Label)
        problem.update(text)
        problem.display = True
