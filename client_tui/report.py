"""The sales report's arithmetic, apart from any widget: which days a preset means, how days
become bars in a given width, and the CSV a report is exported as.

Days are UTC days, as the server counts them (PROTOCOL.md `admin.report.sales`).
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from client_tui.paths import data_dir

PRESETS: dict[str, int] = {"today": 1, "7 days": 7, "30 days": 30}
"""A preset's name and the days it covers, ending today"""
MAX_DAYS = 366
BLOCKS = " ▁▂▃▄▅▆▇█"


def today() -> date:
    return datetime.now(UTC).date()


def last_days(days: int, end: date | None = None) -> tuple[date, date]:
    """The `days` days ending with `end` (today, UTC), both included."""
    last = end or today()
    return last - timedelta(days=days - 1), last


def parse_range(first: str, last: str) -> tuple[date, date]:
    """Two typed days as a range the server takes; `ValueError` says what is wrong."""
    try:
        start, end = date.fromisoformat(first.strip()), date.fromisoformat(last.strip())
    except ValueError:
        raise ValueError("Type both days as YYYY-MM-DD, e.g. 2026-03-01.") from None
    if end < start:
        raise ValueError("The last day is before the first.")
    if (end - start).days + 1 > MAX_DAYS:
        raise ValueError(f"At most {MAX_DAYS} days at a time.")
    return start, end


def days_per_bar(days: int, bars: int) -> int:
    """How many days each bar sums so that `days` days fit in at most `bars` bars."""
    return max(1, math.ceil(days / max(1, bars)))


def buckets(by_day: Sequence[dict[str, Any]], per_bar: int) -> list[tuple[str, int]]:
    """The days' totals as bars of `per_bar` days each (the last may hold fewer): each
    bar's first day and its total."""
    return [
        (by_day[n]["day"], sum(day["total"] for day in by_day[n : n + per_bar]))
        for n in range(0, len(by_day), per_bar)
    ]


def bar_rows(totals: Sequence[int], height: int) -> list[str]:
    """Vertical bars of `totals`, one column each, `height` rows, top row first, drawn with
    eighth blocks; the largest total fills the height, and any total above 0 shows."""
    top = max(totals, default=0)
    eighths = [_eighths(total, top, height) for total in totals]
    return [
        "".join(BLOCKS[min(8, max(0, e - row * 8))] for e in eighths)
        for row in range(height - 1, -1, -1)
    ]


def _eighths(total: int, top: int, height: int) -> int:
    """How many eighths of a row `total` fills, `top` filling all `height` rows."""
    if total <= 0 or top <= 0:
        return 0
    return max(1, (total * height * 8 + top // 2) // top)


def default_export_path(first: date, last: date) -> Path:
    """Where an export goes unless the user says otherwise: the downloads folder
    (`$XDG_DOWNLOAD_DIR`, else `~/Downloads` if there is one), else the app's data dir."""
    name = f"warung-sales-{first.isoformat()}-{last.isoformat()}.csv"
    downloads = os.environ.get("XDG_DOWNLOAD_DIR")
    folder = Path(downloads) if downloads else Path.home() / "Downloads"
    return (folder if folder.is_dir() else data_dir()) / name


def plain_amount(amount: int, exponent: int) -> str:
    """An amount for a spreadsheet: digits, `.` and the minor digits, no grouping."""
    sign = "-" if amount < 0 else ""
    whole, fraction = divmod(abs(amount), 10**exponent)
    return f"{sign}{whole}.{str(fraction).zfill(exponent)}" if exponent else f"{sign}{whole}"


def write_csv(path: Path, report: dict[str, Any], exponent: int) -> None:
    """The report as CSV: a row per day and the totals, then the channels, the payment
    methods and the products listed, each block under its own header row."""

    def money(amount: int) -> str:
        return plain_amount(amount, exponent)

    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as file:
        out = csv.writer(file)
        out.writerow(["day", "orders", "units", f"total ({report['currency']})"])
        for day in report["by_day"]:
            out.writerow([day["day"], day["orders"], day["units"], money(day["total"])])
        out.writerow(["all days", report["orders"], report["units"], money(report["total"])])
        for block in ("by_channel", "by_method"):
            out.writerow([])
            out.writerow([block.removeprefix("by_"), "orders", "units", "total"])
            for name, sums in report[block].items():
                out.writerow([name, sums["orders"], sums["units"], money(sums["total"])])
        out.writerow([])
        out.writerow(["sku", "name", "units", "total"])
        for product in report["by_product"]:
            out.writerow(
                [product["sku"], _text(product["name"]), product["units"], money(product["total"])]
            )


def _text(value: str) -> str:
    """A name as a cell a spreadsheet shows as text, never runs as a formula."""
    return f"'{value}" if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value
