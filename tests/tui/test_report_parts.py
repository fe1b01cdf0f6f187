"""The sales report's parts that need no terminal: preset days, typed ranges, bars in a
width, the export's default path and its CSV."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import pytest

from client_tui import report
from client_tui.paths import data_dir

REPORT = {
    "from": "2026-03-01",
    "to": "2026-03-02",
    "currency": "IDR",
    "orders": 3,
    "units": 7,
    "total": 1_050_005,
    "by_day": [
        {"day": "2026-03-01", "orders": 1, "units": 2, "total": 5},
        {"day": "2026-03-02", "orders": 2, "units": 5, "total": 1_050_000},
    ],
    "by_channel": {
        "online": {"orders": 1, "units": 2, "total": 5},
        "pos": {"orders": 2, "units": 5, "total": 1_050_000},
    },
    "by_method": {
        "cash": {"orders": 2, "units": 5, "total": 1_050_000},
        "card": {"orders": 1, "units": 2, "total": 5},
        "ewallet": {"orders": 0, "units": 0, "total": 0},
    },
    "products": 2,
    "by_product": [
        {"product_id": 4, "sku": "KOP-1", "name": "Kopi, bubuk", "units": 5, "total": 1_050_000},
        {"product_id": 9, "sku": "EVIL-1", "name": "=HYPERLINK(1)", "units": 2, "total": 5},
    ],
}


def test_a_preset_is_its_days_ending_today_both_included():
    assert report.last_days(1, date(2026, 3, 1)) == (date(2026, 3, 1), date(2026, 3, 1))
    assert report.last_days(7, date(2026, 3, 2)) == (date(2026, 2, 24), date(2026, 3, 2))
    assert report.last_days(30, date(2024, 3, 1)) == (date(2024, 2, 1), date(2024, 3, 1))


@pytest.mark.parametrize(
    ("first", "last", "problem"),
    [
        ("2026-3-1", "2026-03-02", "YYYY-MM-DD"),
        ("2026-03-02", "2026-03-01", "before the first"),
        ("2024-01-01", "2025-01-01", "At most 366 days"),
    ],
)
def test_a_typed_range_is_refused_with_what_to_fix(first, last, problem):
    with pytest.raises(ValueError, match=problem):
        report.parse_range(first, last)


def test_a_typed_range_of_a_leap_year_is_taken():
    assert report.parse_range(" 2024-01-01", "2024-12-31 ") == (
        date(2024, 1, 1),
        date(2024, 12, 31),
    )


def test_days_become_at_most_the_bars_that_fit_each_summing_a_few_days():
    days = [{"day": f"d{n}", "total": n} for n in range(366)]
    per_bar = report.days_per_bar(len(days), 39)
    bars = report.buckets(days, per_bar)
    assert per_bar == 10 and len(bars) == 37 <= 39
    assert bars[0] == ("d0", sum(range(10))) and bars[-1] == ("d360", sum(range(360, 366)))
    assert sum(total for _, total in bars) == sum(range(366))
    assert report.days_per_bar(7, 39) == 1


def test_bars_fill_the_height_for_the_highest_and_show_any_sale():
    assert report.bar_rows([0, 1, 50, 100], 2) == ["   █", " ▁██"]
    assert report.bar_rows([0, 0], 3) == ["  ", "  ", "  "]


def test_the_export_goes_to_the_downloads_folder_else_the_data_dir(tmp_path, monkeypatch):
    monkeypatch.delenv("XDG_DOWNLOAD_DIR", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    name = "warung-sales-2026-03-01-2026-03-02.csv"
    span = (date(2026, 3, 1), date(2026, 3, 2))
    assert report.default_export_path(*span) == data_dir() / name
    (tmp_path / "Downloads").mkdir()
    assert report.default_export_path(*span) == tmp_path / "Downloads" / name
    monkeypatch.setenv("XDG_DOWNLOAD_DIR", str(tmp_path / "elsewhere"))
    assert report.default_export_path(*span) == data_dir() / name, "no such folder"


def test_the_csv_has_the_days_totals_channels_methods_and_products(tmp_path: Path):
    path = tmp_path / "new" / "sales.csv"
    report.write_csv(path, REPORT, 2)
    rows = list(csv.reader(path.open(newline="", encoding="utf-8")))
    assert rows == [
        ["day", "orders", "units", "total (IDR)"],
        ["2026-03-01", "1", "2", "0.05"],
        ["2026-03-02", "2", "5", "10500.00"],
        ["all days", "3", "7", "10500.05"],
        [],
        ["channel", "orders", "units", "total"],
        ["online", "1", "2", "0.05"],
        ["pos", "2", "5", "10500.00"],
        [],
        ["method", "orders", "units", "total"],
        ["cash", "2", "5", "10500.00"],
        ["card", "1", "2", "0.05"],
        ["ewallet", "0", "0", "0.00"],
        [],
        ["sku", "name", "units", "total"],
        ["KOP-1", "Kopi, bubuk", "5", "10500.00"],
        ["EVIL-1", "'=HYPERLINK(1)", "2", "0.05"],
    ]


def test_amounts_in_the_csv_have_no_grouping_and_keep_every_minor_digit():
    assert report.plain_amount(1_050_005, 2) == "10500.05"
    assert report.plain_amount(-5, 2) == "-0.05"
    assert report.plain_amount(1500, 0) == "1500"
