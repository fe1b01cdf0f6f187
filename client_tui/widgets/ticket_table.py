"""The till's ticket: the cart's columns with the SKU in front.

On a phone (below `COMPACT_BELOW` columns) it is the cart's compact table: no SKU, no cell
padding, whole amounts, a mark for a line short of stock; so the price and the line total
show whole in 40 columns. At every width a name folds as in the cart, so the clerk can
check each line against the goods (Robusta 165 g is not Arabika 500 g).
"""

from __future__ import annotations

from rich.text import Text

from client_tui.cut import fold
from client_tui.ticket import TicketLine
from client_tui.widgets.cart_table import NAME_LINES, CartTable


class TicketTable(CartTable):
    WIDTHS = (4, 12, 13, 11)
    SKU_WIDTH = 8

    def add_cart_columns(self) -> None:
        if not self.compact:
            self.add_column("SKU", key="sku", width=self.SKU_WIDTH)
        super().add_cart_columns()

    def add_ticket_line(self, line: TicketLine, short: str) -> None:
        """One line of the ticket; `short`: what stock lacks for it, in words."""
        name = fold(line.name, self._name_width(), NAME_LINES)
        whole = self.compact
        cells: list[object] = [
            Text("\n".join(name), no_wrap=True, overflow="ellipsis"),
            Text(str(line.qty), justify="right"),
            Text(self.money.format(line.unit_price, whole=whole), justify="right"),
            Text(self.money.format(line.line_total, whole=whole), justify="right"),
            self.note(short),
        ]
        if not self.compact:
            cells.insert(0, line.sku)
        self.add_row(*cells, key=str(line.product_id), height=len(name))
