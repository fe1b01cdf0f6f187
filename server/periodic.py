"""Work a `LoopingCall` repeats, which must survive its own failures."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from twisted.internet.defer import Deferred
from twisted.logger import Logger

log = Logger()


def logged(task: Callable[[], Deferred[Any]], what: str) -> Callable[[], Deferred[Any]]:
    """`task` for a LoopingCall, which would stop for good at its first failure: a failure
    is logged as `what failed` and the next call tries again."""

    def run() -> Deferred[Any]:
        return task().addErrback(lambda failure: log.failure("{what} failed", failure, what=what))

    return run
