"""Amounts in minor units shown as money, with integer arithmetic only (PROTOCOL.md 11.9)."""

from __future__ import annotations

from dataclasses import dataclass

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

    def format(self, amount: int) -> str:
        symbol, group, decimal = CONVENTIONS.get(self.currency, (f"{self.currency} ", ",", "."))
        sign = "-" if amount < 0 else ""
        whole, fraction = divmod(abs(amount), 10**self.exponent)
        digits = f"{whole:,}".replace(",", group)
        if self.exponent > 0:
            digits += decimal + str(fraction).zfill(self.exponent)
        return f"{sign}{symbol}{digits}"
