"""Amounts in minor units shown as money, with integer arithmetic only (PROTOCOL.md 11.9)."""

from __future__ import annotations

import re
from dataclasses import dataclass

_AMOUNT = re.compile(r"(\d{1,13})(?:[.,](\d*))?")

# symbol, thousands separator, decimal separator: the local habit where we know it
CONVENTIONS: dict[str, tuple[str, str, str]] = {
    "IDR": ("Rp ", ".", ","),
    "USD": ("$", ",", "."),
    "EUR": ("€ ", ".", ","),
    "JPY": ("¥", ",", "."),
    "SGD": ("S$", ",", "."),
    "MYR": ("RM ", ",", "."),
}


@dataclass(frozen=True)
class Money:
    """The shop's currency and its exponent, from `hello`'s `shop`."""

    currency: str = "IDR"
    exponent: int = 2

    def format(self, amount: int, *, symbol: bool = True, whole: bool = False) -> str:
        """`symbol` False: the number alone (for the large digits, which have no letters);
        `whole`: no zero minor units ("Rp 15.000", where room is short)."""
        mark, group, decimal = CONVENTIONS.get(self.currency, (f"{self.currency} ", ",", "."))
        sign = "-" if amount < 0 else ""
        units, fraction = divmod(abs(amount), 10**self.exponent)
        digits = f"{units:,}".replace(",", group)
        if self.exponent > 0 and not (whole and fraction == 0):
            digits += decimal + str(fraction).zfill(self.exponent)
        return f"{sign}{mark if symbol else ''}{digits}"

    def plain(self, amount: int) -> str:
        """An amount as it is typed (`17500,50`): no symbol, no grouping; `parse` reads it."""
        decimal = CONVENTIONS.get(self.currency, ("", ",", "."))[2]
        whole, fraction = divmod(amount, 10**self.exponent)
        return (
            f"{whole}{decimal}{str(fraction).zfill(self.exponent)}" if self.exponent else str(whole)
        )

    def parse(self, text: str) -> int:
        """An amount typed in whole units (`50000`, `17500,50`) in minor units, without
        floats. No grouping: `50.000` is 50 with three decimals, which is refused."""
        match = _AMOUNT.fullmatch(text.strip())
        if match is None:
            raise ValueError("Type the amount in digits, e.g. 50000.")
        whole, fraction = match[1], match[2] or ""
        if len(fraction) > self.exponent:
            places = f"{self.exponent} digits" if self.exponent else "no digits"
            raise ValueError(f"An amount has {places} after the decimal separator.")
        return int(whole) * 10**self.exponent + int(fraction.ljust(self.exponent, "0") or 0)
