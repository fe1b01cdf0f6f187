"""SIGHUP, which `systemctl reload` and an admin's `kill -HUP` send: the running server reads
its files again (the TLS certificate, and whatever else registers here) without stopping.

Nothing in Twisted takes SIGHUP (twistd rotates its log file on SIGUSR1), and its default
action ends the process, so the server installs this handler while it runs. A handler that
was there before (one a log module installed, say) is kept and still called.
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from types import FrameType
from typing import Any

from twisted.logger import Logger

log = Logger()
Handler = Callable[[int, FrameType | None], Any] | int | None


class Reloads:
    """The actions SIGHUP runs, in order, on the reactor's thread."""

    def __init__(self, reactor: Any) -> None:
        self.reactor = reactor
        self.actions: list[Callable[[], None]] = []
        self._previous: Handler = None
        self._installed = False

    def install(self) -> None:
        """Take SIGHUP (from the main thread, as Python requires)."""
        self._previous = signal.signal(signal.SIGHUP, self._received)
        self._installed = True

    def uninstall(self) -> None:
        """Give SIGHUP back to the handler it had before `install`."""
        if self._installed:
            previous = self._previous
            signal.signal(signal.SIGHUP, signal.SIG_DFL if previous is None else previous)
            self._installed = False

    def _received(self, signum: int, frame: FrameType | None) -> None:
        self.reactor.callFromThread(self.run)
        if callable(self._previous):
            self._previous(signum, frame)

    def run(self) -> None:
        log.info("SIGHUP: reloading")
        for action in self.actions:
            try:
                action()
            except Exception:
                log.failure("reloading with {action!r} failed", action=action)
