"""Timestamps as the user reads them: local time, day and minute."""

from __future__ import annotations

from datetime import datetime


def when(moment: datetime | None) -> str:
    if moment is None:
        return ""
    return moment.astimezone().strftime("%d %b %H:%M")
