"""What this client knows of the clerk's till (register session, PROTOCOL.md 11.7).

The protocol has no op that reads an open register: the client learns it when it opens
one, or when opening answers `register_already_open` (opened earlier or at another
station). So the expected cash is known here only for a till opened here; the server's
figure comes back with `clerk.register.close`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class TillStatus(StrEnum):
    UNKNOWN = "unknown"  # not asked yet this session
    OPEN = "open"
    CLOSED = "closed"


@dataclass
class Till:
    status: TillStatus = TillStatus.UNKNOWN
    station: str = ""
    opening_cash: int | None = None  # None: opened before this client knew
    cash_taken: int = 0  # cash sales rung up here since it opened

    @property
    def expected_cash(self) -> int | None:
        """Opening cash plus the cash sales rung up here; None when not known here."""
        return None if self.opening_cash is None else self.opening_cash + self.cash_taken

    def opened(self, register: dict[str, Any]) -> None:
        self.status = TillStatus.OPEN
        self.station = register["station"]
        self.opening_cash = register["opening_cash"]
        self.cash_taken = 0

    def open_elsewhere(self) -> None:
        """Opening said one is open already: sell on it, amounts unknown here."""
        self.status = TillStatus.OPEN
        self.station = ""
        self.opening_cash = None
        self.cash_taken = 0

    def sold(self, order: dict[str, Any]) -> None:
        if (order.get("payment") or {}).get("method") == "cash":
            self.cash_taken += order["total"]

    def closed(self) -> None:
        self.status = TillStatus.CLOSED
        self.opening_cash = None
        self.cash_taken = 0
