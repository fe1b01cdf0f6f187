"""How the connection state reads in the status bar."""

from __future__ import annotations

import math
import time

from protocol.client import AsyncClient, State

OFFLINE = ("offline", "○ offline")
NOT_CONNECTED = ("idle", "")  # no link tried yet, or signed out: "not signed in" says it all


class RetryClock:
    """Counts down to the SDK's next reconnect attempt.

    The SDK says how long it waits before the next try (`next_retry_s`), not when it
    started waiting, so the countdown starts when a new value is first seen and wraps
    around when the same wait repeats (at the backoff cap).
    """

    def __init__(self) -> None:
        self._seen: float | None = None
        self._since = 0.0

    def remaining(self, wait_s: float | None, now: float | None = None) -> float | None:
        now = time.monotonic() if now is None else now
        if wait_s is None or wait_s <= 0:
            self._seen = None
            return None
        if wait_s != self._seen:
            self._seen, self._since = wait_s, now
        return wait_s - (now - self._since) % wait_s


def describe_link(client: AsyncClient | None, clock: RetryClock) -> tuple[str, str]:
    """(state, text) for the status bar."""
    if client is None:
        return OFFLINE
    if client.state == State.CONNECTED:
        return ("connected", "● connected")
    if client.state == State.CONNECTING:
        return ("connecting", "◌ connecting…")
    if client.state == State.RECONNECTING:
        remaining = clock.remaining(client.next_retry_s)
        if remaining is None:
            return ("reconnecting", "◌ reconnecting…")
        return ("reconnecting", f"◌ reconnecting in {math.ceil(remaining)}s · ^R now")
    return OFFLINE
