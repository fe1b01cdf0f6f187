"""The receipt of a point-of-sale order: plain text, 40 columns (a receipt printer's width),
shown on screen and kept as a file in the data dir (`receipts/receipt-<order id>.txt`, or
`receipt-<receipt number>.txt` for a sale rung up offline; `-2`, `-3` after it when another
receipt has that name)."""

from __future__ import annotations

import textwrap
from datetime import datetime
from pathlib import Path
from typing import Any

from client_tui.money import Money
from client_tui.paths import data_dir, write_private

WIDTH = 40
METHODS = {"cash": "Cash", "card": "Card", "ewallet": "E-wallet"}


def receipt_text(
    shop_name: str, money: Money, order: dict[str, Any], *, station: str, clerk: str
) -> str:
    """The receipt of `order` (the result of `clerk.sale`) rung up at `station` ("" when
    not known here: a till opened before this session)."""
    rule = "-" * WIDTH
    number = receipt_number(order)
    rows = [shop_name.center(WIDTH).rstrip(), f"Receipt {number}  {_when(order)}"]
    rows.append((f"Till {station} · {clerk}" if station else f"Clerk {clerk}")[:WIDTH])
    if order.get("offline_at") is not None:
        rows.append("Rung up offline" if order.get("id") is None else f"Order {order['id']}")
    rows.append(rule)
    for line in order["lines"]:
        rows.extend(textwrap.wrap(line["name"], WIDTH))  # whole: its size tells variants apart
        each = f"  {line['qty']} x {money.format(line['unit_price'])}"
        rows.append(_pair(each, money.format(line["line_total"])))
    rows.append(rule)
    rows.append(_pair("TOTAL", money.format(order["total"])))
    payment = order.get("payment") or {}
    method = payment.get("method", "")
    if method == "cash":
        change = order.get("change_due", 0)
        rows.append(_pair("Cash", money.format(order["total"] + change)))
        rows.append(_pair("Change", money.format(change)))
    else:
        rows.append(_pair(METHODS.get(method, method), money.format(order["total"])))
        if payment.get("reference"):
            rows.append(f"Ref {payment['reference']}"[:WIDTH])
    rows.append(rule)
    rows.append("Thank you!".center(WIDTH).rstrip())
    return "\n".join(rows) + "\n"


def receipt_number(order: dict[str, Any]) -> str:
    """The till's receipt number when it gave one (a sale rung up offline), else the
    order's id."""
    return str(order.get("receipt") or order["id"])


def save_receipt(text: str, number: int | str) -> Path:
    """Keep the receipt in the data dir under its number; returns where. Another receipt
    already there under that number (another shop's order, a database restored) is never
    overwritten: this one takes the next free name, `receipt-42-2.txt`."""
    folder = data_dir() / "receipts"
    path, n = folder / f"receipt-{number}.txt", 1
    while path.exists() and path.read_text(encoding="utf-8") != text:
        n += 1
        path = folder / f"receipt-{number}-{n}.txt"
    write_private(path, text)
    return path


def _pair(left: str, right: str) -> str:
    return f"{left}{right.rjust(WIDTH - len(left))}"


def _when(order: dict[str, Any]) -> str:
    moment = order.get("created_at")
    if not isinstance(moment, datetime):
        return ""
    return moment.astimezone().strftime("%d %b %Y %H:%M")
