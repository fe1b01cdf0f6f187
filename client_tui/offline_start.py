"""A clerk's till without the server: its queue of sales rung up offline, and what it last
knew of its clerk, to open on when the server does not answer at start.

No terminal here: the app (`app.py`) connects and shows the screens.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from textual.app import App
from textual.message import Message

from client_tui.offline_queue import QUEUE_FILE, OfflineQueue, owner_of
from client_tui.paths import data_dir
from client_tui.settings import KeptSession
from client_tui.shop import Shop
from protocol.client import AsyncClient

OFFLINE_START = (
    "A till can sell offline only once its clerk has signed in here with Stay signed in "
    "ticked while the shop answered: until the shop answers, note sales on paper and ring "
    "them up then."
)
BROWSER_NOT_OFFLINE = (
    "a browser tab does not sell offline (it has no station disk of its own): "
    "wait for the link, or sell at a till running warung"
)


def open_queue(
    app: App[Any], role: str, *, sells_offline: bool, prefix: str
) -> tuple[OfflineQueue | None, str]:
    """A clerk's queue of sales rung up offline (`prefix` on their receipts), or None and why
    a clerk's till sells online only (a browser tab, a data dir that cannot hold the queue),
    which `app` tells."""
    if role != "clerk":
        return None, ""
    if not sells_offline:
        return None, BROWSER_NOT_OFFLINE
    try:
        return OfflineQueue(data_dir() / QUEUE_FILE, prefix), ""
    except (sqlite3.Error, OSError) as error:
        app.notify(f"Selling offline is off: {error}.", severity="warning", timeout=10)
        return None, f"selling offline is off ({error}): wait for the link"


@dataclass(frozen=True)
class LastKnown:
    """What the till last knew of a clerk: their profile (user, hello, till) in `queue`."""

    queue: OfflineQueue
    owner: str
    profile: dict[str, Any]

    def shop(self, client: AsyncClient, post: Callable[[Message], Any]) -> Shop:
        """The shop as last known, on `client` (not connected yet), with the till as it was."""
        profile = self.profile
        shop = Shop(
            client,
            profile["user"],
            post,
            offline=self.queue,
            owner=self.owner,
            hello=profile["hello"],
        )
        if profile["till"] is not None:
            shop.till.opened(profile["till"])
        return shop


def last_known(queue: OfflineQueue | None, kept: KeptSession) -> LastKnown | None:
    """What the till knows of `kept`'s clerk, who signed in here before while the server
    answered; None, with `queue` closed, when there is nothing to go on."""
    owner = owner_of(kept.user, kept.target.address)
    profile = queue.profile(owner) if queue is not None else None
    if queue is None or profile is None or profile["user"].get("role") != "clerk":
        if queue is not None:
            queue.close()
        return None
    return LastKnown(queue, owner, profile)
