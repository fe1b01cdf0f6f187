"""What the client tells its application besides answers: the link's state, a request the
link lost, and pushes, the server's and the client's own local ones."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

SNAPSHOT_EVENT = "stock.snapshot"  # local: the stock subscriptions taken again
ORDERS_SNAPSHOT_EVENT = "order.snapshot"  # local: a staff client's order.subscribe again
SESSION_ENDED_EVENT = "session.ended"


class State(StrEnum):
    CONNECTING = "connecting"
    CONNECTED = "connected"
    RECONNECTING = "reconnecting"
    CLOSED = "closed"


class ConnectionLost(Exception):
    """The link dropped before the answer came: the request may or may not have run. Or,
    `sent` false, there was no link to send it on: it did not run.

    A keyed call carries its `idempotency_key`: calling it again with that key is safe
    (`AsyncClient.call_keyed` does so by itself).
    """

    def __init__(self, op: str, idempotency_key: str | None = None, sent: bool = True) -> None:
        super().__init__(
            f"connection lost before the answer to {op}"
            if sent
            else f"not connected: {op} was not sent"
        )
        self.op = op
        self.idempotency_key = idempotency_key
        self.sent = sent


@dataclass(frozen=True)
class Push:
    event: str
    seq: int
    data: dict[str, Any]
