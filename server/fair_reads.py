"""Reads taken from each connection in turn, a connection's first waiting read before the
rest, so that a client that pipelines many costly reads delays the others by little.

The reader threads took reads first come, first served: 512 connections that each asked
for 40 catalog pages of 200 products kept another client's `cart.get` behind 20,480 of
them, for seconds, then past its timeout. Now each connection's reads wait in a queue of
its own, and at most `slots` run at once (as many as there are reader threads). While
none waits, a read goes out at once. The next to go out is the oldest read of a connection
that had none waiting or running (`fresh`), or, every `BACKLOG_EVERY`-th turn or when
there is none such, the next read of a connection with more waiting (`backlog`, one each in
turn): a client that asks once at a time waits for the other such clients, not for the
pipelines, and the pipelines still move. A connection's own reads go out in the order they
came; those still waiting when it has closed (`closing`) never run.

Whose read it is comes from `serving` (`server.serving`). The server's own reads (no
connection) take their turns as one more queue.

Writes are not taken this way: tried with the same class in front of the SQLite writer, it
halved the server's writes per second under a flood of pipelined cart changes, whatever
it let out at once (256 to 4,096 jobs). `server.write_slots` holds each connection to a
few writes at the writer instead (docs/performance.md).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any, TypeVar

from twisted.internet.defer import Deferred, maybeDeferred

from protocol.errors import Unavailable
from server.serving import serving

T = TypeVar("T")

BACKLOG_EVERY = 4  # a read of the backlog at least every so many, when both wait

Start = Callable[[], Deferred[Any]]  # sends one read to a thread; fires with its outcome


class FairReads:
    def __init__(self, slots: int) -> None:
        self.slots = slots
        self.out = 0
        self.waiting: dict[object, deque[tuple[Start, Deferred[Any]]]] = {}
        self.fresh: deque[object] = deque()  # keys whose first waiting read has not gone
        self.backlog: deque[object] = deque()  # keys with more waiting, in turn
        self.busy: dict[object, int] = {}  # reads out, by key
        self.queued = 0  # reads waiting
        self._turns = 0
        self._filling = False

    def submit(self, start: Callable[[], Deferred[T]]) -> Deferred[T]:
        """Call `start` when its connection's turn comes; fires with what it fires with."""
        key = serving.get()
        if not self.queued and self.out < self.slots:  # nothing waits: it goes out now
            self.out += 1
            self.busy[key] = self.busy.get(key, 0) + 1
            return maybeDeferred(start).addBoth(self._returned, key)
        done: Deferred[T] = Deferred()
        queue = self.waiting.get(key)
        if queue is None:
            queue = self.waiting[key] = deque()
            (self.backlog if key in self.busy else self.fresh).append(key)
        queue.append((start, done))
        self.queued += 1
        self._fill()
        return done

    def _fill(self) -> None:
        """Send out what the slots allow. Not reentered: a read that fires at once, or an
        outcome that submits more, leaves the sending to the loop already running."""
        if self._filling:
            return
        self._filling = True
        try:
            while self.out < self.slots and (self.fresh or self.backlog):
                self._turns += 1
                of_backlog = not self.fresh or (self.backlog and self._turns % BACKLOG_EVERY == 0)
                key = (self.backlog if of_backlog else self.fresh).popleft()
                if getattr(key, "closing", False):
                    self._drop(key)
                else:
                    self._send(key)
        finally:
            self._filling = False

    def _send(self, key: object) -> None:
        """Send out `key`'s oldest waiting read; it goes to the back of the backlog if more
        wait."""
        queue = self.waiting[key]
        start, done = queue.popleft()
        self.queued -= 1
        self.out += 1
        self.busy[key] = self.busy.get(key, 0) + 1
        maybeDeferred(start).addBoth(self._finished, key, done)  # (one that raises fails)
        if queue:
            self.backlog.append(key)
        else:
            del self.waiting[key]

    def _drop(self, key: object) -> None:
        """`key`'s connection has closed: its waiting reads fail without running (nobody
        would get their answers)."""
        queue = self.waiting.pop(key)
        self.queued -= len(queue)
        for _, done in queue:
            done.errback(Unavailable("the connection closed before this read ran"))

    def _finished(self, result: Any, key: object, done: Deferred[Any]) -> None:
        """A read that waited is done: the next go out, then its submitter hears."""
        done.callback(self._returned(result, key))  # a Failure passed on fails `done`

    def _returned(self, result: T, key: object) -> T:
        """A read is done: its slot goes to the next (before its submitter hears)."""
        self.out -= 1
        if self.busy[key] == 1:
            del self.busy[key]
        else:
            self.busy[key] -= 1
        self._fill()
        return result
