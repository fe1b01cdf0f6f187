"""The sales report, for admins: today, the last 7 or 30 days or a chosen range of UTC
days; the totals, by channel and by payment method; a bar chart of sales by day drawn with
block characters; the top products; and an export to CSV (`admin.report.sales`)."""

from __future__ import annotations

from datetime import date
from typing import Any, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import Label, Static

from client_tui.cut import Folded
from client_tui.errors import CALL_ERRORS, report
from client_tui.orderfmt import counted
from client_tui.report import (
    PRESETS,
    bar_rows,
    buckets,
    days_per_bar,
    default_export_path,
    last_days,
)
from client_tui.screens.report import ExportScreen, RangeScreen
from client_tui.shop import Shop
from client_tui.widgets.fit import FitTable
from protocol.ops import Op

TOP_PRODUCTS = 50
CHART_ROWS = 5
MAX_COLUMN = 10  # a bar 9 wide and its gap
CHANNELS = {"online": "Online", "pos": "Point of sale"}
METHODS = {"cash": "Cash", "card": "Card", "ewallet": "E-wallet"}


class DayChart(Static):
    """Sales by day as vertical bars, the highest day filling the height; under them the
    first and last day. More days than columns: each bar sums a few days."""

    DEFAULT_CSS = """
    DayChart { height: auto; color: $accent; }
    """

    def __init__(self, shop: Shop, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.shop = shop
        self.by_day: list[dict[str, Any]] = []

    def show(self, by_day: list[dict[str, Any]]) -> None:
        self.by_day = by_day
        self.refresh(layout=True)

    def render(self) -> Text:
        width = max(10, self.size.width)
        per_bar = days_per_bar(len(self.by_day), width // 2)  # a bar and a gap at least
        bars = buckets(self.by_day, per_bar)
        column = min(MAX_COLUMN, max(2, width // max(1, len(bars))))
        high = max((total for _, total in bars), default=0)
        heading = f"Sales by day · highest {self.shop.money.format(high)}"
        if per_bar > 1:
            heading += f" · a bar is {per_bar} days"
        lines = [Text(heading, style="bold")]
        for row in bar_rows([total for _, total in bars], CHART_ROWS):
            lines.append(Text("".join(cell * (column - 1) + " " for cell in row)))
        lines.append(Text(self._axis([day for day, _ in bars], column), style="dim"))
        return Text("\n").join(lines)

    def _axis(self, days: list[str], column: int) -> str:
        """Under each bar its day (`MM-DD`) when there is room; else the first and last."""
        if not days:
            return ""
        if column > len("MM-DD"):
            return "".join(day[5:].ljust(column) for day in days)
        first, last = days[0], self.by_day[-1]["day"]
        return first if first == last else first + last.rjust(len(days) * column - len(first))


class ReportView(Vertical):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("t", "preset('today')", "Today"),
        Binding("w", "preset('7 days')", "7 days"),
        Binding("m", "preset('30 days')", "30 days"),
        Binding("g", "choose_range", "Range"),
        Binding("e", "export", "Export CSV"),
        Binding("r", "reload", "Refresh"),
    ]
    DEFAULT_CSS = """
    ReportView #report-range { text-style: bold; }
    ReportView #report-totals { height: auto; margin-bottom: 1; }
    ReportView #report-products { height: 1fr; }
    """

    def __init__(self, shop: Shop, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.shop = shop
        self.span: tuple[date, date] = last_days(PRESETS["7 days"])
        self.named = "7 days"
        self.report: dict[str, Any] | None = None

    def compose(self) -> ComposeResult:
        yield Label("", id="report-range")
        yield Static("Loading…", id="report-totals")
        yield DayChart(self.shop, id="report-chart")
        yield FitTable(fill="name", minimum=12, id="report-products")

    def on_mount(self) -> None:
        table = self.query_one("#report-products", FitTable)
        table.add_column("SKU", key="sku", width=12)
        table.add_column("Top products", key="name", width=12)  # then fitted to the width
        table.add_column(Text("Units", justify="right"), key="units", width=7)
        table.add_column(Text("Total", justify="right"), key="total", width=18)
        self.action_reload()

    def on_show(self) -> None:
        """In front: the figures again, as they are now (a preset's days too, should the day
        have turned), unless a read is on its way."""
        if any(worker.group == "report" and worker.is_running for worker in self.workers):
            return
        if self.named:
            self.span = last_days(PRESETS[self.named])
        self.action_reload()

    def action_preset(self, name: str) -> None:
        self.named = name
        self.span = last_days(PRESETS[name])
        self.action_reload()

    def action_reload(self) -> None:
        first, last = self.span
        title = self.named.capitalize() if self.named else "Range"
        self.query_one("#report-range", Label).update(
            f"{title}: {first.isoformat()} to {last.isoformat()} (UTC days)"
            if first != last
            else f"{title}: {first.isoformat()} (UTC)"
        )
        self._load(first, last)

    @work(exclusive=True, group="report")
    async def _load(self, first: date, last: date) -> None:
        args = {"from": first.isoformat(), "to": last.isoformat(), "top": TOP_PRODUCTS}
        try:
            found = await self.shop.client.call(Op.ADMIN_REPORT_SALES, args)
        except CALL_ERRORS as error:
            report(self, error, "Sales report")
            return
        self.report = found
        self._show(found)

    def _show(self, found: dict[str, Any]) -> None:
        money = self.shop.money.format

        def sums(part: dict[str, int]) -> str:
            orders, units = counted(part["orders"], "order"), counted(part["units"], "unit")
            return f"{orders} · {units} · {money(part['total'])}"

        def split(names: dict[str, str], parts: dict[str, dict[str, int]]) -> str:
            return " · ".join(f"{names[key]} {money(parts[key]['total'])}" for key in names)

        self.query_one("#report-totals", Static).update(
            f"[b]Total[/b] {sums(found)}\n"
            f"By channel: {split(CHANNELS, found['by_channel'])}\n"
            f"By payment: {split(METHODS, found['by_method'])}"
        )
        self.query_one(DayChart).show(found["by_day"])
        table = self.query_one("#report-products", FitTable)
        table.clear()
        for product in found["by_product"]:
            table.add_row(
                product["sku"],
                Folded(product["name"], most=1),  # cut in the middle: its size shows
                Text(str(product["units"]), justify="right"),
                Text(money(product["total"]), justify="right"),
                key=str(product["product_id"]),
            )

    def action_choose_range(self) -> None:
        def chosen(span: tuple[date, date] | None) -> None:
            if span is not None:
                self.span, self.named = span, ""
                self.action_reload()

        self.app.push_screen(RangeScreen(*self.span), chosen)

    def action_export(self) -> None:
        if self.report is None:
            self.notify("The report is still loading.", title="Export")
            return
        first, last = (date.fromisoformat(self.report[end]) for end in ("from", "to"))

        def saved(path: Any) -> None:
            if path is not None:
                self.notify(f"Saved to {path}", title="Sales report exported")

        screen = ExportScreen(
            self.report, self.shop.money.exponent, default_export_path(first, last)
        )
        self.app.push_screen(screen, saved)
