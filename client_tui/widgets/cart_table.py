"""The cart's lines: product, quantity, price, line total and what stock lacks.

Below `COMPACT_BELOW` columns (a phone) the table drops the cell padding, writes amounts
without the zero cents and leaves only a mark ("✕", "!") for a line stock cannot fill
(the cart's footer names it in words), so the amounts show whole in 40 columns. At every
width a name longer than its room folds onto a second line instead of being cut, so two
sizes of one product never read alike.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.message import Message

from client_tui.cut import fold
from client_tui.money import Money
from client_tui.stock import LOW_MARK, NO_LONGER_SOLD, SOLD_OUT_MARK
from client_tui.widgets.fit import FitTable
from client_tui.widgets.product_table import COMPACT_BELOW

MIN_NAME = 10
NAME_LINES = 8  # a name folds onto at most this many lines: at 40 columns the demo's
# longest (50 characters) needs six, and a middle cut made variants read alike


class CartTable(FitTable):
    # the widths of Qty, Price, Total and the note; compact: on a phone
    WIDTHS: tuple[int, int, int, int] = (4, 12, 14, 14)  # the note: "no longer sold"
    COMPACT_WIDTHS: tuple[int, int, int, int] = (4, 11, 12, 2)

    class Refit(Message):
        """The columns changed for the width: the lines must be drawn again."""

    def __init__(self, money: Money, *, id: str | None = None) -> None:
        super().__init__(fill="name", minimum=MIN_NAME, id=id)
        self.money = money
        self.compact = False

    def on_mount(self) -> None:
        self.add_cart_columns()

    def add_cart_columns(self) -> None:
        widths = self.COMPACT_WIDTHS if self.compact else self.WIDTHS
        self.add_column("Product", key="name", width=MIN_NAME)
        for (key, title), width in zip(
            (("qty", "Qty"), ("price", "Price"), ("total", "Total"), ("note", "")),
            widths,
            strict=True,
        ):
            self.add_column(Text(title, justify="right"), key=key, width=width)

    def _name_width(self) -> int:
        column = self.columns.get(self.fill)  # type: ignore[call-overload]
        return int(column.width) if column is not None else MIN_NAME

    def add_line(self, line: dict[str, Any], qty: int, line_total: int, short: str) -> None:
        """One cart line as shown: `qty` and `line_total` may be typed but not yet sent."""
        name = fold(line["name"], self._name_width(), NAME_LINES)
        self.add_row(
            Text("\n".join(name), no_wrap=True, overflow="ellipsis"),
            Text(str(qty), justify="right"),
            Text(self.money.format(line["unit_price"], whole=self.compact), justify="right"),
            Text(self.money.format(line_total, whole=self.compact), justify="right"),
            self.note(short),
            key=str(line["product_id"]),
            height=len(name),
        )

    def note(self, short: str) -> Text:
        """What stock lacks, in words; a mark alone when compact."""
        if self.compact and short:
            short = SOLD_OUT_MARK if short in ("sold out", NO_LONGER_SOLD) else LOW_MARK
        return Text(short, style="bold red", justify="right" if self.compact else "left")

    def fit(self) -> None:
        """Compact columns on a phone; the names fold again when their room changes."""
        compact = 0 < self.size.width < COMPACT_BELOW
        changed = compact != self.compact
        if changed:
            self.compact = compact
            self.cell_padding = 0 if compact else 1
            self.clear(columns=True)
            self.add_cart_columns()
        before = self._name_width()
        super().fit()
        if changed or self._name_width() != before:
            self.post_message(self.Refit())
