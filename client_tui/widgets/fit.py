"""A DataTable whose one flexible column takes the width the other columns leave.

DataTable sizes each column to its content or to a fixed width; a long product name would
push the price off an 80-column screen. So the name (or status) column is fitted to the
table's width instead, whenever the table is resized.
"""

from __future__ import annotations

from typing import ClassVar

from textual import events
from textual.binding import Binding, BindingType
from textual.widgets import DataTable
from textual.widgets.data_table import CellDoesNotExist


class FitTable(DataTable[object]):
    # row tables: Home and End go to the first and last row, not the first and last column
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("home", "scroll_top", "First row", show=False),
        Binding("end", "scroll_bottom", "Last row", show=False),
    ]

    def __init__(self, *, fill: str, minimum: int, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self.fill = fill
        self.minimum = minimum

    def cursor_key(self) -> str | None:
        """The key of the row under the cursor, or None for an empty table."""
        if not self.row_count:
            return None
        try:
            row_key, _ = self.coordinate_to_cell_key(self.cursor_coordinate)
        except CellDoesNotExist:
            return None
        return row_key.value

    def on_resize(self, event: events.Resize) -> None:
        self.fit()

    def fit(self) -> None:
        """Give the fill column what the others leave (room kept for the scrollbar)."""
        column = self.columns.get(self.fill)  # type: ignore[call-overload]
        if column is None or not self.size.width:
            return
        padding = 2 * self.cell_padding
        others = sum(c.width + padding for k, c in self.columns.items() if k != column.key)
        scrollbar = self.styles.scrollbar_size_vertical
        width = max(self.minimum, self.size.width - others - padding - scrollbar)
        if column.width != width or column.auto_width:
            column.width = width
            column.auto_width = False
            self._require_update_dimensions = True  # DataTable has no public way to resize
            self.refresh(layout=True)
