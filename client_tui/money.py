"""Amounts in minor units shown as money, with integer arithmetic only (PROTOCOL.md 11.9)."""

from __future__ import annotations

import re
from dataclasses import dataclass

_AMOUNT = re.compile(r"(\d+)(?:[.,](\d*))?")
MAX_DIGITS = 13  # of the whole units; the shop bounds amounts further

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
        mark, group, decimal = self._conventions()
        sign = "-" if amount < 0 else ""
        units, fraction = divmod(abs(amount), 10**self.exponent)
        digits = f"{units:,}".replace(",", group)
        if self.exponent > 0 and not (whole and fraction == 0):
            digits += decimal + str(fraction).zfill(self.exponent)
        return f"{sign}{mark if symbol else ''}{digits}"

    def parse(self, text: str) -> int:
        """An amount typed in whole units (`50000`, `17500,50`, or grouped as the shop shows
        it: `Rp 50.000`, `1.250.000,50`) in minor units, without floats. Either `.` or `,`
        may mark the fraction, so an amount that has more digits after it than the currency
        has (`50.000` where thousands are not grouped with `.`) is refused, never read as 50.
        Where the two could be mistaken, the amount is refused as ambiguous, never guessed:
        with three or more digits to the fraction, one group mark and three digits alone
        (`1,500` in dinars); and a fraction after the group mark and at most three digits
        (`18.50` in rupiah, perhaps 18.500 mistyped). A dash for the fraction
        (`15.000,-`) marks a whole amount, as prices are often written."""
        mark, group, decimal = self._conventions()
        typed = text.strip().removeprefix(mark.strip()).strip()
        if typed.startswith("-"):
            raise ValueError("An amount here cannot be less than 0: type it without '-'.")
        typed = typed.removesuffix(f"{decimal}-")  # `Rp 15.000,-`: a whole amount, as written
        grouped = re.fullmatch(
            rf"\d{{1,3}}(?:{re.escape(group)}\d{{3}})+(?:{re.escape(decimal)}\d*)?", typed
        )
        if grouped and self.exponent >= 3 and typed.count(group) == 1 and decimal not in typed:
            raise ValueError(
                f"{typed} could be read two ways: type it without {group!r}, "
                f"e.g. {self._example()}."
            )
        if grouped:
            typed = typed.replace(group, "")
        match = _AMOUNT.fullmatch(typed)
        if match is None:
            raise ValueError(f"Type the amount in digits, e.g. {self._example()}.")
        whole, fraction = match[1], match[2] or ""
        if len(whole) > MAX_DIGITS:
            raise ValueError(f"That amount has more than {MAX_DIGITS} digits: too large.")
        if len(fraction) > self.exponent:
            places = f"{self.exponent} digits" if self.exponent else "no digits"
            raise ValueError(
                f"An amount has {places} after the decimal separator: type e.g. {self._example()}."
            )
        if not grouped and fraction and f"{group}{fraction}" in typed and len(whole) <= 3:
            raise ValueError(  # "18.50" where "." groups thousands: 18.500 mistyped?
                f"{typed} could be read two ways: type {whole}{decimal}{fraction} for a "
                f"fraction, e.g. {self._example()}."
            )
        return int(whole) * 10**self.exponent + int(fraction.ljust(self.exponent, "0") or 0)

    @property
    def symbol(self) -> str:
        """What stands before an amount ("Rp"), for a label beside digits shown without it."""
        return self._conventions()[0].strip()

    def _conventions(self) -> tuple[str, str, str]:
        return CONVENTIONS.get(self.currency, (f"{self.currency} ", ",", "."))

    def _example(self) -> str:
        """An amount as it may be typed: `18500 or 18.500`."""
        grouped = self.format(18500 * 10**self.exponent, symbol=False, whole=True)
        return f"18500 or {grouped}"
