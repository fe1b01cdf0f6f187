"""How names and listings read in little room (issue 16): folding and cutting names, the
line above a paged table, short prices and stock marks."""

from __future__ import annotations

import io

from rich.console import Console

from client_tui.cut import Folded, fold, middle_cut
from client_tui.listing import position, scope
from client_tui.money import Money
from client_tui.orderfmt import (
    counted,
    headline,
    item_count,
    payment_text,
    short_status,
    some_refunded,
    status_text,
)
from client_tui.screens.ship import PACKING_LINES, packing_list
from client_tui.stock import stock_text


def test_a_long_name_folds_at_words_and_keeps_an_amount_with_its_unit() -> None:
    assert fold("Bunda Susu Kental Manis Putih 370 g", 33) == [
        "Bunda Susu Kental Manis Putih",
        "370 g",
    ]
    assert fold("Bersih Jaya Sabun Batang Cuci 3 x 180 g", 35) == [
        "Bersih Jaya Sabun Batang Cuci 3 x",
        "180 g",
    ]
    assert fold("Teh", 10) == ["Teh"] and fold("", 10) == [""]


def test_a_folded_name_is_folded_for_the_width_it_is_drawn_in() -> None:
    name = "Kebun Sari Kopi Bubuk Arabika 165 g"
    for width in (17, 24):
        drawn = Console(width=width).render_lines(Folded(name), pad=False)
        assert ["".join(s.text for s in line) for line in drawn] == fold(name, width)
    assert fold(name, 17) == ["Kebun Sari Kopi", "Bubuk Arabika", "165 g"]


def test_beyond_the_most_lines_the_last_is_cut_in_the_middle() -> None:
    lines = fold("Gurih Jaya Keripik Singkong Balado Pedas Manis 150 g", 10, most=3)
    assert len(lines) == 3 and all(len(line) <= 10 for line in lines)
    assert lines[-1].endswith("150 g") and "…" in lines[-1]


def test_a_cut_keeps_the_start_and_the_last_words() -> None:
    name = "Bunda Susu Kental Manis Cokelat 370 g"
    for width in (13, 20, 30):
        cut = middle_cut(name, width)
        assert len(cut) <= width and cut.startswith("Bunda") and cut.endswith("370 g"), cut
    assert middle_cut(name, 40) == name
    assert middle_cut(name, 1) == "…" and middle_cut(name, 0) == ""


def test_the_position_of_the_rows_on_screen() -> None:
    assert position(41, 60, 100, 399, True) == "41-60 of 399"
    assert position(1, 12, 12, 12, False) == "12"  # every row on screen
    assert position(21, 37, 40, None, True) == "21-37 of 40+"  # no total: what is loaded
    assert position(0, 0, 0, 0, False) == ""


def test_the_scope_names_the_search_the_category_and_the_key_to_widen_it() -> None:
    assert scope("41-60 of 399", "", None) == "41-60 of 399 products"
    assert scope("1", "susu", None) == "1 result for “susu”"
    assert (
        scope("", "beras", "Kopi & Teh")
        == "No results for “beras” in Kopi & Teh · Ctrl+G search everywhere"
    )
    assert scope("23", "", "Susu") == "23 products in Susu · Ctrl+G all products"
    assert scope("", "kopi", None, loading=True) == "Finding results for “kopi”"


def test_short_prices_and_stock_marks() -> None:
    money = Money("IDR", 2)
    assert money.format(1500000, whole=True) == "Rp 15.000"
    assert money.format(1500050, whole=True) == "Rp 15.000,50"  # cents that count stay
    assert money.format(1500000) == "Rp 15.000,00"
    assert [stock_text(n) for n in (0, 3, 6)] == ["✕ sold out", "! only 3 left", "6 in stock"]
    assert [stock_text(n, compact=True) for n in (0, 3, 6)] == ["✕ sold out", "! 3 left", "6"]


def test_a_count_names_its_noun_plural_but_for_one() -> None:
    assert [counted(n, "order") for n in (0, 1, 2)] == ["0 orders", "1 order", "2 orders"]
    assert counted(-1, "unit") == "-1 unit"


def test_a_refunded_unit_marks_the_order_refunded_in_part() -> None:
    line = {"qty": 2, "refunded_qty": 0}
    assert not some_refunded({"lines": [line]})
    assert some_refunded({"lines": [line, {**line, "refunded_qty": 1}]})


def test_a_payment_reads_as_it_stands() -> None:
    def paid(status: str) -> dict[str, object]:
        return {"payment": {"method": "card", "status": status}}

    assert payment_text(paid("captured")) == "Paid by Card"
    assert payment_text(paid("declined")) == "Card payment declined: nothing was charged"
    assert payment_text(paid("refunded")) == "Paid by Card, refunded"
    assert payment_text(paid("pending")) == "Card payment being charged"
    assert payment_text({"payment": None}) == ""


def test_an_orders_items_are_those_still_bought() -> None:
    order = {"lines": [{"qty": 2, "refunded_qty": 1}, {"qty": 1, "refunded_qty": 0}]}
    assert item_count(order) == "2 items"
    assert item_count(order, refunds=True) == "2 items, 1 refunded"
    assert item_count({"lines": [{"qty": 1}]}, refunds=True) == "1 item"


def test_a_status_says_why_an_order_was_cancelled_and_a_part_refunded_in_few_words():
    line = {"product_id": 1, "qty": 2, "refunded_qty": 0}
    assert status_text({"status": "paid", "lines": [line]}) == "paid"
    refunded = {"status": "delivered", "lines": [{**line, "refunded_qty": 1}]}
    assert status_text(refunded) == "delivered, part refunded"
    assert short_status(refunded) == "part refund"
    assert status_text({**refunded, "status": "refunded"}) == "refunded"
    declined = {"status": "cancelled", "cancel_reason": "payment_declined", "lines": [line]}
    assert status_text(declined) == "cancelled: payment declined"
    assert short_status(declined) == "declined"
    for reason in ("customer", "staff", "interrupted", None):
        assert len(short_status({**declined, "cancel_reason": reason})) <= 12
    assert headline(declined) == (
        "This order is cancelled: its payment was declined, and nothing was charged."
    )


def test_a_packing_list_gives_the_units_still_bought_and_counts_what_it_leaves_out():
    lines = [
        {"sku": f"S-{i}", "name": f"Product {i}", "qty": 3, "refunded_qty": i % 3}
        for i in range(12)
    ]
    shown = packing_list({"lines": lines}).splitlines()
    assert shown[:3] == ["3 x Product 0 (S-0)", "2 x Product 1 (S-1)", "1 x Product 2 (S-2)"]
    assert len(shown) == PACKING_LINES and shown[-1] == "and 5 more products"
    assert packing_list({"lines": [{**lines[0], "refunded_qty": 3}]}) == ""


def test_a_name_cut_in_the_middle_to_its_cells_width_keeps_its_size():
    console = Console(width=20, file=io.StringIO(), record=True)
    console.print(Folded("Kebun Sari Kopi Bubuk Arabika 165 g", most=1))
    assert console.export_text().rstrip() == "Kebun…Arabika 165 g"
