"""The till's parts that need no terminal: what the entry line takes, the ticket's
arithmetic and its sale key, amounts typed as money, the till's expected cash, the receipt."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from client_tui.money import Money
from client_tui.receipt import receipt_text, save_receipt
from client_tui.ticket import MAX_LINES, Entry, Ticket, TicketError, parse_entry
from client_tui.till import Till, TillStatus

IDR = Money("IDR", 2)


def product(product_id: int, price: int, **extra) -> dict:
    return {
        "id": product_id,
        "sku": f"SKU-{product_id}",
        "name": f"Thing {product_id}",
        "price": price,
        **extra,
    }


@pytest.mark.parametrize(
    ("typed", "entry"),
    [
        ("MIE-0001", Entry(1, "MIE-0001")),
        ("3*MIE-0001", Entry(3, "MIE-0001")),
        ("  12 * MIE-0001 ", Entry(12, "MIE-0001")),
        ("2*kopi susu", Entry(2, "kopi susu")),
        ("kopi*susu", Entry(1, "kopi*susu")),  # a star after a word is part of the name
        ("1000*X", Entry(1000, "X")),
    ],
)
def test_the_entry_line_reads_a_quantity_then_a_sku_or_name(typed, entry):
    assert parse_entry(typed) == entry


@pytest.mark.parametrize(
    ("typed", "problem"),
    [("0*MIE-0001", "1 to 1000"), ("1001*X", "1 to 1000"), ("3*", "Type a SKU"), ("  ", "SKU")],
)
def test_the_entry_line_refuses_what_it_cannot_sell(typed, problem):
    with pytest.raises(TicketError, match=problem):
        parse_entry(typed)


def test_the_ticket_adds_up_merges_lines_and_gives_the_sale_lines():
    ticket = Ticket()
    ticket.add(product(1, 3500), 2)
    ticket.add(product(2, 12500), 1)
    ticket.add(product(1, 3500), 3)  # the same product: its line grows
    assert [(ln.product_id, ln.qty, ln.line_total) for ln in ticket.lines] == [
        (1, 5, 17500),
        (2, 1, 12500),
    ]
    assert (ticket.count, ticket.total) == (6, 30000)
    ticket.set_qty(2, 4)
    ticket.remove(1)
    assert ticket.sale_lines() == [{"product_id": 2, "qty": 4}]
    assert ticket.total == 50000


def test_the_ticket_keeps_to_the_protocols_bounds():
    ticket = Ticket()
    ticket.add(product(1, 100), 999)
    with pytest.raises(TicketError, match="1 to 1000"):
        ticket.add(product(1, 100), 2)
    with pytest.raises(TicketError, match="1 to 1000"):
        ticket.set_qty(1, 0)
    line = ticket.line(1)
    assert line is not None and line.qty == 999  # unchanged by the refusals
    with pytest.raises(TicketError, match="archived"):
        ticket.add(product(9, 100, archived=True), 1)
    for product_id in range(2, MAX_LINES + 1):
        ticket.add(product(product_id, 100), 1)
    with pytest.raises(TicketError, match=f"at most {MAX_LINES} lines"):
        ticket.add(product(MAX_LINES + 1, 100), 1)
    assert len(ticket.lines) == MAX_LINES


def test_one_key_per_sale_kept_until_the_sale_ends():
    ticket = Ticket()
    ticket.add(product(1, 100), 1)
    key = ticket.idempotency_key
    ticket.add(product(2, 100), 1)
    assert ticket.idempotency_key == key  # a retry after a lost link sends the same key
    ticket.renew_key()  # a definite answer: the next try is a new sale
    assert ticket.idempotency_key != key
    key = ticket.idempotency_key
    ticket.new_sale()
    assert ticket.lines == [] and ticket.idempotency_key != key


@pytest.mark.parametrize(
    ("money", "typed", "amount"),
    [
        (IDR, "50000", 5000000),
        (IDR, "17500,5", 1750050),
        (IDR, "17500.25", 1750025),  # "." as the fraction's mark: too many digits to group
        (Money("JPY", 0), "1500", 1500),
        (Money("USD", 2), "0.07", 7),
        (IDR, "18.500", 1850000),  # grouped as the shop shows it
        (IDR, "Rp 1.250.000,50", 125000050),
        (IDR, "Rp 15.000,-", 1500000),  # a dash for the fraction: a whole amount
        (Money("USD", 2), "$12.-", 1200),
        (Money("USD", 2), "$1,234.56", 123456),
        (Money("JPY", 0), "1,500", 1500),
        (Money("KWD", 3), "1.500", 1500),  # three decimals: a fraction
        (Money("KWD", 3), "1,500,000", 1500000000),  # two group marks: grouped
        (Money("KWD", 3), "1,500.25", 1500250),
    ],
)
def test_amounts_typed_in_whole_units_become_minor_units(money, typed, amount):
    assert money.parse(typed) == amount


@pytest.mark.parametrize(
    ("money", "typed", "problem"),
    [
        (IDR, "1,500", "2 digits after"),  # not IDR's grouping: refused, not read as 1.5
        (Money("USD", 2), "50.000", "2 digits after"),
        (IDR, "1.25.000", "in digits, e.g. 18500 or 18.500"),
        (Money("KWD", 3), "1,500", "could be read two ways"),  # 1.5 or 1500 dinars
        (Money("IDR", 3), "1.500", "could be read two ways"),
        (IDR, "18.50", "could be read two ways: type 18,50 for a fraction"),  # 18.500?
        (Money("USD", 2), "2,5", "could be read two ways: type 2.5 for a fraction"),
        (IDR, "99999999999999", "more than 13 digits"),
        (Money("JPY", 0), "15,5", "no digits after"),
        (IDR, "", "in digits"),
        (IDR, "12a", "in digits"),
        (IDR, "-5", "less than 0: type it without '-'"),
        (IDR, "Rp -5", "less than 0"),
    ],
)
def test_amounts_typed_wrong_are_refused(money, typed, problem):
    with pytest.raises(ValueError, match=problem):
        money.parse(typed)


def test_the_large_total_is_the_number_alone():
    assert IDR.format(5250000, symbol=False) == "52.500,00"
    assert IDR.format(-250000, symbol=False) == "-2.500,00"


def test_the_till_holds_the_register_the_server_said_is_open():
    till = Till()
    assert till.status == TillStatus.UNKNOWN and till.opening_cash is None
    till.opened({"station": "kasir-1", "opening_cash": 10000000, "expected_cash": 15250000})
    assert (till.status, till.station, till.opening_cash) == (TillStatus.OPEN, "kasir-1", 10000000)
    till.closed()
    assert till.status == TillStatus.CLOSED and till.opening_cash is None


CASH_SALE: dict[str, Any] = {
    "id": 41,
    "created_at": datetime(2026, 11, 25, 9, 30, tzinfo=UTC),
    "total": 5250000,
    "change_due": 750000,
    "payment": {"method": "cash", "reference": None},
    "lines": [
        {
            "name": "Rasa Sayang Mie Goreng Original 85 g",
            "qty": 3,
            "unit_price": 350000,
            "line_total": 1050000,
        },
        {
            "name": "Merapi Kopi Bubuk Robusta 500 g extra long name that goes on",
            "qty": 1,
            "unit_price": 4200000,
            "line_total": 4200000,
        },
    ],
}


def test_a_cash_receipt_lists_the_lines_whole_the_total_the_cash_and_the_change():
    text = receipt_text("Warung Bu Sari", IDR, CASH_SALE, station="kasir-1", clerk="clerk")
    local = CASH_SALE["created_at"].astimezone().strftime("%d %b %Y %H:%M")
    assert text == "\n".join(
        [
            "             Warung Bu Sari",
            f"Receipt 41  {local}",
            "Till kasir-1 · clerk",
            "-" * 40,
            "Rasa Sayang Mie Goreng Original 85 g",
            "  3 x Rp 3.500,00           Rp 10.500,00",
            "Merapi Kopi Bubuk Robusta 500 g extra",
            "long name that goes on",
            "  1 x Rp 42.000,00          Rp 42.000,00",
            "-" * 40,
            "TOTAL                       Rp 52.500,00",
            "Cash                        Rp 60.000,00",
            "Change                       Rp 7.500,00",
            "-" * 40,
            "               Thank you!",
            "",
        ]
    )


def test_a_card_receipt_names_the_method_and_the_reference():
    sale = dict(CASH_SALE, payment={"method": "card", "reference": "fake-123"})
    del sale["change_due"]
    rows = receipt_text("W", IDR, sale, station="k", clerk="c").splitlines()
    assert "Card                        Rp 52.500,00" in rows
    assert "Ref fake-123" in rows
    assert not any(row.startswith("Change") for row in rows)


def test_a_receipt_from_a_till_opened_elsewhere_names_the_clerk_alone():
    rows = receipt_text("W", IDR, CASH_SALE, station="", clerk="siti").splitlines()
    assert rows[2] == "Clerk siti"


def test_a_receipt_is_saved_in_the_data_dir(home: Path):
    path = save_receipt("the receipt\n", 41)
    assert path == home / "data" / "warung" / "receipts" / "receipt-41.txt"
    assert path.read_text() == "the receipt\n"


def test_another_receipt_under_the_same_number_is_kept(home: Path):
    first = save_receipt("shop A, order 41\n", 41)
    again = save_receipt("shop A, order 41\n", 41)  # the same receipt: the same file
    other = save_receipt("shop B, order 41\n", 41)  # another shop's order 41
    assert first == again and other.name == "receipt-41-2.txt"
    assert first.read_text() == "shop A, order 41\n" and other.read_text() == "shop B, order 41\n"
