"""The one clock type the server's services and connections take."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from twisted.internet.interfaces import IDelayedCall


class Clock(Protocol):
    """The part of Twisted's `IReactorTime` used here: the reactor, or `task.Clock` in tests
    (mypy cannot check a zope interface's methods). In production `seconds()` is wall time."""

    def seconds(self) -> float: ...

    def callLater(
        self, delay: float, callable: Callable[..., Any], *args: object, **kwargs: object
    ) -> IDelayedCall: ...
