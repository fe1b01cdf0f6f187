"""An audit entry in words: who made it, and its details, amounts as money."""

from __future__ import annotations

import json
from typing import Any

from client_tui.money import Money

# the details that hold amounts, in minor units (PROTOCOL.md's "Audited:" paragraphs)
MONEY_KEYS = frozenset(
    {
        "total",
        "amount",
        "price",
        "change_due",
        "opening_cash",
        "expected_cash",
        "counted_cash",
        "difference",
    }
)


def user_name(entry: dict[str, Any]) -> str:
    """Who made the entry: the username, else (a server before `username`) the id; "" for
    the server itself or no known account."""
    if entry["user_id"] is None:
        return ""
    return str(entry.get("username") or entry["user_id"])


def details(entry: dict[str, Any], money: Money) -> str:
    """`key=value` pairs, as `detail_value` shows each value, amounts without the symbol (a
    narrow column: `total=20.500,00`)."""
    return " ".join(
        f"{key}={detail_value(key, value, money, symbol=False)}"
        for key, value in entry["details"].items()
    )


def detail_value(key: str, value: Any, money: Money, *, symbol: bool = True) -> str:
    """An amount as money (a change's `[before, after]` as both); anything else as JSON: the
    server's text is shown, never interpreted."""
    if key in MONEY_KEYS and _amounts(value):
        amounts = value if isinstance(value, list) else [value]
        return " → ".join(money.format(amount, symbol=symbol) for amount in amounts)
    return json.dumps(value, ensure_ascii=False)


def _amounts(value: Any) -> bool:
    """An int, or a list of ints (not bools, which are ints too)."""
    values = value if isinstance(value, list) else [value]
    return bool(values) and all(type(v) is int for v in values)
