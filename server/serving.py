"""Whose request the code running now serves: the connection whose reads and writes take
its turns (`server.fair_reads`, `server.write_slots`).

The dispatcher sets `serving` while a handler runs; an `async def` handler's coroutine
keeps it across its awaits (Twisted runs each step in the context the coroutine started
in). A Deferred's callback runs in the context of whatever fires it (a writer's outcome: no
connection), so a callback that reads or writes for the connection is made with
`for_this_connection`.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")

serving: ContextVar[object] = ContextVar("serving", default=None)


def for_this_connection(fn: Callable[P, R]) -> Callable[P, R]:
    """`fn`, to be called later, with `serving` as it is now."""
    key = serving.get()

    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        token = serving.set(key)
        try:
            return fn(*args, **kwargs)
        finally:
            serving.reset(token)

    return run
