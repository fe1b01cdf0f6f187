"""Flood suppression for a log: a few lines per key and window, then one count of the rest.

An attacker who makes the server refuse 400,000 requests must not make it write 400,000
lines (nor fill the disk the other logs share). Per key, `FloodGate` lets the first
`per_window` events of a window through; the rest of that window are only counted, and
when the window ends the count goes out as one summary. Nothing is dropped silently: every
event is either written or counted in a summary.

The keys are bounded like `server.limits.AddressLimiter`: past `max_keys`, the least
recently used key is forgotten, its pending count summarised at once. A timer runs only
for a key that has something to summarise.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

from server.clock import Clock

MAX_KEYS = 10_000  # windows remembered: about 14 MB when every one is counting
_ABSENT = object()


@dataclass
class Suppressed:
    """What a window counted instead of writing: `count` events from `first` to `last`
    (clock seconds); `common` holds the fields (of the events' maps) they all had alike."""

    count: int
    first: float
    last: float
    common: dict[str, Any]

    def add(self, event: dict[str, Any], now: float) -> None:
        self.count += 1
        self.last = now
        for name in [n for n, value in self.common.items() if event.get(n, _ABSENT) != value]:
            del self.common[name]


@dataclass
class _Window:
    start: float
    written: int = 0
    suppressed: Suppressed | None = None
    timer: Any = None  # the IDelayedCall of the summary (mypy cannot read its methods)


Summarise = Callable[[Hashable, Suppressed], None]


class FloodGate:
    def __init__(
        self,
        clock: Clock,
        summarise: Summarise,
        per_window: int = 5,
        window_s: float = 60.0,
        max_keys: int = MAX_KEYS,
    ) -> None:
        """`summarise(key, suppressed)` is called when a window that suppressed ends."""
        self.clock = clock
        self.summarise = summarise
        self.per_window = per_window
        self.window_s = window_s
        self.max_keys = max_keys
        self._windows: dict[Hashable, _Window] = {}  # least recently used first

    def __len__(self) -> int:
        return len(self._windows)

    def admit(self, key: Hashable, event: dict[str, Any]) -> bool:
        """Whether to write `event` (of `key`) now; False: it is counted for the summary."""
        now = self.clock.seconds()
        window = self._windows.get(key)
        if window is not None and now >= window.start + self.window_s:
            self._end(key)  # over: summarised now if it counted (its timer is late)
            window = None
        if window is None:
            if len(self._windows) >= self.max_keys:
                self._end(next(iter(self._windows)))
            window = _Window(now)
        else:
            del self._windows[key]
        self._windows[key] = window  # the most recently used end
        if window.written < self.per_window:
            window.written += 1
            return True
        if window.suppressed is None:
            window.suppressed = Suppressed(0, now, now, dict(event))
            delay = window.start + self.window_s - now
            window.timer = self.clock.callLater(delay, self._end, key)
        window.suppressed.add(event, now)
        return False

    def flush(self) -> None:
        """Summarise every window's count now (the server is stopping)."""
        for key in [k for k, w in self._windows.items() if w.suppressed is not None]:
            self._end(key)

    def _end(self, key: Hashable) -> None:
        window = self._windows.pop(key)
        if window.suppressed is None:
            return
        if window.timer is not None and window.timer.active():
            window.timer.cancel()
        self.summarise(key, window.suppressed)
