"""Reads taken from each connection in turn, a connection's first waiting read before the
rest, so that a client that pipelines many costly reads delays the others by little.

The reader threads took reads first come, first served: 512 connections that each asked
for 40 catalog pages of 200 products kept another client's `cart.get` behind 20,480 of
them, for seconds, then past its timeout. Now each connection's reads wait in a queue of
its own, and at most `slots` reads run at once (as many as there are reader threads). The
next to run is the oldest read of a connection that had none waiting or running (`fresh`), or, every
`BACKLOG_EVERY`-th read or when there is none such, the next read of a connection with more
waiting (`backlog`, one each in turn): a client that asks once at a time waits for the
other such clients, not for the pipelines, and the pipelines still move.

Whose read it is comes from `reading_for`, which the dispatcher sets while a handler runs;
an `async def` handler's coroutine keeps it across its awaits (Twisted runs each step in
the context the coroutine started in). Reads of no connection (the server's own periodic
work) take their turns as one more queue.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any, TypeVar

from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

T = TypeVar("T")

reading_for: ContextVar[object] = ContextVar("reading_for", default=None)

Start = Callable[[Callable[[], Any]], Deferred[Any]]  # runs work on a reader thread


BACKLOG_EVERY = 4  # a read of the backlog at least every so many, when both wait


class FairReads:
    def __init__(self, slots: int, start: Start) -> None:
        self.slots = slots
        self.start = start
        self.running = 0
        self.waiting: dict[object, deque[tuple[Callable[[], Any], Deferred[Any]]]] = {}
        self.fresh: deque[object] = deque()  # keys whose first waiting read has not run
        self.backlog: deque[object] = deque()  # keys with more reads waiting, in turn
        self.busy: dict[object, int] = {}  # reads running, by key
        self._started = 0

    def submit(self, work: Callable[[], T]) -> Deferred[T]:
        """Run `work` on a reader thread when its connection's turn comes."""
        done: Deferred[T] = Deferred()
        key = reading_for.get()
        queue = self.waiting.get(key)
        if queue is None:
            queue = self.waiting[key] = deque()
            (self.backlog if key in self.busy else self.fresh).append(key)
        queue.append((work, done))
        self._fill()
        return done

    def _fill(self) -> None:
        while self.running < self.slots and (self.fresh or self.backlog):
            self._started += 1
            of_backlog = not self.fresh or (self.backlog and self._started % BACKLOG_EVERY == 0)
            key = (self.backlog if of_backlog else self.fresh).popleft()
            queue = self.waiting[key]
            work, done = queue.popleft()
            if queue:
                self.backlog.append(key)
            else:
                del self.waiting[key]
            self.running += 1
            self.busy[key] = self.busy.get(key, 0) + 1
            self.start(work).addBoth(self._finished, key, done)

    def _finished(self, result: Any, key: object, done: Deferred[Any]) -> None:
        self.running -= 1
        if self.busy[key] == 1:
            del self.busy[key]
        else:
            self.busy[key] -= 1
        self._fill()
        if isinstance(result, Failure):
            done.errback(result)
        else:
            done.callback(result)
