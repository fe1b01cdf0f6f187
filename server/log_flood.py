"""Flood suppression for a log: a few lines per key and window, then one count of the rest.

An attacker who makes the server refuse 400,000 requests must not make it write 400,000
lines (nor fill the disk the other logs share). Per key, `FloodGate` lets the first
`per_window` events of a window through; the rest of that window are only counted, and
when the window ends the count goes out as one summary. Nothing is dropped silently: every
event is either written or counted in a summary.

Many keys at once (an attacker with many addresses) are held by a budget that the keys of
a group share (`group(key)`: the same event from any address): past `group_lines` lines
a window (a token bucket), an event its key would have written is counted under the group
instead, so the lines a window writes stay bounded whatever the number of keys. A budget
per group means a flood of one event cannot starve the lines of another.

The keys are bounded like `server.limits.AddressLimiter`: past `max_keys`, the least
recently used key is forgotten, its pending count summarised at once. A timer runs only
for a key that has something to summarise.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

from server.clock import Clock
from server.limits import TokenBucket

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
        group: Callable[[Hashable], Hashable],
        per_window: int = 5,
        window_s: float = 60.0,
        group_lines: int = 200,
        max_keys: int = MAX_KEYS,
    ) -> None:
        """`summarise(key, suppressed)` is called when a window that suppressed ends (a
        group's key among them); `group(key)` is never a key itself, and there are few."""
        self.clock = clock
        self.summarise = summarise
        self.group = group
        self.per_window = per_window
        self.window_s = window_s
        self.group_lines = group_lines
        self.max_keys = max_keys
        self._windows: dict[Hashable, _Window] = {}  # least recently used first
        self._budgets: dict[Hashable, TokenBucket] = {}

    def __len__(self) -> int:
        return len(self._windows)

    def admit(self, key: Hashable, event: dict[str, Any]) -> bool:
        """Whether to write `event` (of `key`) now; False: it is counted for a summary."""
        now = self.clock.seconds()
        window = self._window(key, now)
        if window.written < self.per_window:
            group = self.group(key)
            if not self._budget(group, now).take(now):
                window.written += 1
                return True
            key, window = group, self._window(group, now)
        if window.suppressed is None:
            window.suppressed = Suppressed(0, now, now, dict(event))
            delay = window.start + self.window_s - now
            window.timer = self.clock.callLater(delay, self._end, key)
        window.suppressed.add(event, now)
        return False

    def _budget(self, group: Hashable, now: float) -> TokenBucket:
        budget = self._budgets.get(group)
        if budget is None:
            rate = self.group_lines / self.window_s
            budget = self._budgets[group] = TokenBucket(rate, self.group_lines, now)
        return budget

    def _window(self, key: Hashable, now: float) -> _Window:
        """The current window of `key`, now the most recently used; a new one if it had
        none or its window is over."""
        window = self._windows.pop(key, None)
        if window is not None and now >= window.start + self.window_s:
            self._windows[key] = window
            self._end(key)  # over: summarised now if it counted (its timer is late)
            window = None
        if window is None:
            if len(self._windows) >= self.max_keys:
                self._end(next(iter(self._windows)))
            window = _Window(now)
        self._windows[key] = window
        return window

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
