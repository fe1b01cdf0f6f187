"""What the stock, refund, shortfalls and refused-sales dialogs share.

Escape and the dialog's Back button leave it (dismissed with None); a problem line, hidden
until then, says what stops the form or why the shop refused it; a form's fields stand in
rows of a label and an input; a list is a table of fixed columns whose highlighted row is
looked up by its key.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import ClassVar, TypeVar

from textual import on
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Button, DataTable, Input, Label

from client_tui.errors import LINK_ERRORS, describe, end_if_signed_out

ResultT = TypeVar("ResultT")
RowT = TypeVar("RowT")


class Dialog(ModalScreen[ResultT]):
    """`NAME` is the prefix of its ids: the problem line `#NAME-problem`, `#NAME-back`."""

    NAME: ClassVar[str]
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss(None)", "Back")]

    def problem_line(self) -> Label:
        """The problem line, to compose: hidden until `show_problem`."""
        line = Label("", id=f"{self.NAME}-problem")
        line.display = False
        return line

    def show_problem(self, text: str) -> None:
        problem = self.query_one(f"#{self.NAME}-problem", Label)
        problem.update(text)
        problem.display = True

    def failed(self, error: BaseException, again: str) -> None:
        """A call failed: why, on the problem line. After a link error pressing again is
        safe (`again` says why); a session that ended elsewhere signs out."""
        if isinstance(error, LINK_ERRORS):
            self.show_problem(f"{describe(error)} Pressing again is safe: {again}.")
        else:
            self.show_problem(describe(error))
            end_if_signed_out(self, error)

    @on(Button.Pressed)
    def _back_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == f"{self.NAME}-back":
            self.dismiss(None)


def field_row(label: str, field: Input) -> Widget:
    """A form's field: its label, then its input."""
    return Horizontal(Label(label), field, classes="field-row")


def row_table(table_id: str, columns: Iterable[tuple[str, str, int]]) -> DataTable[str]:
    """A table of rows with `columns` (key, label, width)."""
    table: DataTable[str] = DataTable(id=table_id, cursor_type="row")
    for key, label, width in columns:
        table.add_column(label, key=key, width=width)
    return table


def highlighted(table: DataTable[str], rows: Mapping[str, RowT]) -> RowT | None:
    """The row of `rows` (by the table's row keys) under the table's cursor, if any."""
    if not rows or table.cursor_row < 0:
        return None
    key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
    return rows.get(key or "")
