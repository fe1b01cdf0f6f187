"""At most a few writes of one connection at the writer at once; the rest wait on the server.

Writes are taken first come, first served: the writer commits them in the order they
reach it. A connection may have 64 requests in flight, so 256 connections pipelining
`cart.set` kept 16,384 jobs in the writer's pipe, and another client's `cart.clear` waited
behind all of them, over a second. With `per_connection` slots each, a write waits behind
at most that many of every other connection's, while each connection's own writes still
reach the writer in the order they came and the writer's batches stay full.

Whose write it is comes from `serving` (`server.fair_reads`), as for reads. The server's
own writes (no connection) are not held. A write whose connection has closed meanwhile
still runs: its client may have sent it just before going, and cannot know either way.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any, TypeVar

from twisted.internet.defer import Deferred, maybeDeferred

from server.fair_reads import serving

T = TypeVar("T")

Start = Callable[[], Deferred[Any]]  # sends one write to the writer; fires with its outcome


class WriteSlots:
    def __init__(self, per_connection: int) -> None:
        self.per_connection = per_connection
        self.out: dict[object, int] = {}  # writes at the writer, by connection
        self.waiting: dict[object, deque[tuple[Start, Deferred[Any]]]] = {}

    def submit(self, start: Callable[[], Deferred[T]]) -> Deferred[T]:
        """Call `start` now if its connection has a slot free, else once one frees."""
        key = serving.get()
        if key is None:
            return start()
        out = self.out.get(key, 0)
        if out < self.per_connection:
            self.out[key] = out + 1
            return maybeDeferred(start).addBoth(self._returned, key)
        done: Deferred[T] = Deferred()
        self.waiting.setdefault(key, deque()).append((start, done))
        return done

    def _returned(self, result: T, key: object) -> T:
        """A write is done: its slot goes to the connection's next one waiting, if any,
        before its submitter hears."""
        queue = self.waiting.get(key)
        if queue is None:
            if self.out[key] == 1:
                del self.out[key]
            else:
                self.out[key] -= 1
            return result
        start, done = queue.popleft()
        if not queue:
            del self.waiting[key]
        maybeDeferred(start).addBoth(self._returned, key).chainDeferred(done)
        return result
