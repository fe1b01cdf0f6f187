"""At most a few writes of one connection at the writer at once; the rest wait on the server.

Writes are taken first come, first served: the writer commits them in the order they
reach it. A connection may have 64 requests in flight, so 256 connections pipelining
`cart.set` kept 16,384 jobs in the writer's pipe, and another client's `cart.clear` waited
behind all of them, over a second. With `per_connection` slots each, a write waits behind
at most that many of every other connection's, while each connection's own writes still
reach the writer in the order they came. A flood gets fewer writes through: the writer
waits for the next ones between its batches (docs/performance.md).

Whose write it is comes from `serving` (`server.serving`), as for reads; a write sent from
a callback (after an earlier write) is its connection's when the callback was made with
`for_this_connection`. The server's own writes (no connection) are not held. A write
whose connection has closed meanwhile still runs: its client may have sent it just before
going, and cannot know either way.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any, TypeVar

from twisted.internet.defer import Deferred, maybeDeferred

from server.serving import serving

T = TypeVar("T")

Start = Callable[[], Deferred[Any]]  # sends one write to the writer; fires with its outcome


class WriteSlots:
    def __init__(self, per_connection: int) -> None:
        self.per_connection = per_connection
        self.out: dict[object, int] = {}  # writes at the writer, by connection
        self.waiting: dict[object, deque[tuple[Start, Deferred[Any]]]] = {}
        self.held = 0  # writes waiting here, of every connection
        self._ended: deque[object] = deque()  # connections whose write ended, slot not passed on
        self._passing = False

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
        self.held += 1
        return done

    def _returned(self, result: T, key: object) -> T:
        """A write is done: its slot goes to the connection's next one waiting, if any,
        before its submitter hears. Not reentered: a write that ends at once (the writer
        restarting) leaves its slot to the loop already passing them on, so a long queue
        of such writes unwinds without recursing."""
        self._ended.append(key)
        if not self._passing:
            self._passing = True
            try:
                while self._ended:
                    self._pass_on(self._ended.popleft())
            finally:
                self._passing = False
        return result

    def _pass_on(self, key: object) -> None:
        queue = self.waiting.get(key)
        if queue is None:
            if self.out[key] == 1:
                del self.out[key]
            else:
                self.out[key] -= 1
            return
        start, done = queue.popleft()
        self.held -= 1
        if not queue:
            del self.waiting[key]
        maybeDeferred(start).addBoth(self._returned, key).chainDeferred(done)
