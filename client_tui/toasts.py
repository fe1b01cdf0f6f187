"""Few toasts: a message already showing is replaced, not stacked, and at most
`MAX_TOASTS` show at once (the oldest goes first), so they never pile up over the screen."""

from __future__ import annotations

from typing import Any

from textual.app import App

MAX_TOASTS = 2


def make_room(app: App[Any], message: str, most: int = MAX_TOASTS) -> None:
    """Before `message` is shown: take away its twin and the oldest beyond `most` - 1.
    Textual has no public way to drop one notification, hence its private calls."""
    shown = list(app._notifications)
    twins = [note for note in shown if note.message == message]
    rest = [note for note in shown if note.message != message]
    for note in twins + rest[: max(0, len(rest) - most + 1)]:
        app._unnotify(note, refresh=False)
    if twins or len(rest) >= most:
        app._refresh_notifications()
