"""What this client knows of the clerk's till (register session, PROTOCOL.md 11.7).

The register belongs to the clerk, not to this client: it may have been opened earlier,
or at another station, and sales and refunds on other connections count in it. So the
client asks the server (`clerk.register.get`) after sign-in, when opening answers
`register_already_open`, and before a close; the cash the drawer should hold is the
server's figure, never one counted here.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class TillStatus(StrEnum):
    UNKNOWN = "unknown"  # not asked yet this session, or the asking failed
    OPEN = "open"
    CLOSED = "closed"  # none open for this clerk


@dataclass
class Till:
    status: TillStatus = TillStatus.UNKNOWN
    station: str = ""
    opening_cash: int | None = None

    def opened(self, register: dict[str, Any]) -> None:
        """The clerk's open register, as opening it or reading it answered."""
        self.status = TillStatus.OPEN
        self.station = register["station"]
        self.opening_cash = register["opening_cash"]

    def closed(self) -> None:
        self.status = TillStatus.CLOSED
        self.opening_cash = None


HELP = (
    "At the till: type a SKU, 3*SKU for three, or part of a name (→ completes it; Enter "
    "picks from the list), then Enter. Tab goes to the ticket: + and - change the line "
    "under the cursor, x removes it, Enter types its quantity; Escape comes back to the "
    "entry line. F5 cash, F6 card, F7 e-wallet; F8 opens or closes the till; F10 (or "
    "Ctrl+F) opens an order by its number, to refund it; F9 lists offline sales the shop "
    "refused."
)

NEEDS_PROVIDER = (
    "Card and e-wallet need the payment provider, which the till cannot reach while the "
    "shop is offline: take cash (F5), or wait for the link."
)


def offline_refusal(method: str, status: TillStatus) -> str | None:
    """Why the till cannot sell offline paid by `method` (cash only, on a till known to be
    open), or None when it can."""
    if method != "cash":
        return NEEDS_PROVIDER
    if status != TillStatus.OPEN:
        return (
            "Offline, selling needs the till that was open when the link was lost: "
            "F8 opens one once the shop answers."
        )
    return None
