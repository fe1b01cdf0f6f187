"""PostgreSQL writes with group commit: writer threads that each run the jobs waiting for
them in one transaction (`server.pg_batch`).

Jobs wait in one queue. A writer thread takes every job waiting (up to `MAX_BATCH`), runs
them as one batch, puts the ones to run again (a deadlock or serialization failure) back
at the head of the queue, and hands the outcomes to the reactor after the COMMIT. When
the database is quick a thread takes a job alone; when it is the limit, jobs pile up
while the threads wait on their statements and COMMITs, and each COMMIT carries them all.
Several threads keep several batches' round trips in flight at once, as several
connections do for the psycopg2 floor.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from typing import Any

import peewee as pw
from twisted.internet.defer import Deferred, fail, succeed
from twisted.python.failure import Failure

from server.pg_batch import Job, Settled, run_batch
from server.write_jobs import unavailable

# As the SQLite writer's. Measured in two-server flash sales (docs/performance.md, 2026-12-01):
# 5,000 jobs at once answered in 1.28-1.74 s against 1.54-2.10 s at 64, fewer batches
# sharing fewer lock statements and COMMITs; at 100 clients a batch holds about 29 anyway.
MAX_BATCH = 256
# Two, measured (docs/performance.md, 2026-12-01): a batch's jobs share its lock statement,
# COMMIT and round trips (`server.pg_batch`), so fewer, fuller batches cost less of both
# processes' CPU per job; one thread alone leaves the database idle between round trips.
THREADS = 2


class PgWriter:
    """Write jobs for one server on PostgreSQL, `threads` batches at a time."""

    def __init__(
        self, db: pw.Database, reactor: Any, threads: int = THREADS, max_batch: int = MAX_BATCH
    ) -> None:
        self.db = db
        self.reactor = reactor
        self.max_batch = max_batch
        self.writes = 0  # jobs committed
        self.batches = 0  # transactions ended
        self.batch_sizes: Counter[int] = Counter()
        self.busy_s = 0.0  # seconds the threads spent in batches, summed
        self.pending = 0  # jobs submitted and not settled
        self.up = False
        self._waiting: deque[Job] = deque()
        self._ready = threading.Condition()
        self._closing = False
        self._threads = [
            threading.Thread(target=self._serve, name=f"warung-write-{i}", daemon=True)
            for i in range(threads)
        ]
        self._running = 0
        self._stopped: Deferred[None] | None = None

    def start(self) -> Deferred[None]:
        """Start the threads; fires at once (nothing to wait for, unlike the SQLite writer)."""
        self.up = True
        self._running = len(self._threads)
        for thread in self._threads:
            thread.start()
        return succeed(None)

    def stop(self) -> Deferred[None]:
        """Finish the jobs submitted, then end the threads; fires when they have ended."""
        with self._ready:
            self._closing = True
            self._ready.notify_all()
        self.up = False
        if self._running == 0:
            return succeed(None)
        self._stopped = Deferred()
        return self._stopped

    def submit(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> Deferred[Any]:
        """Run `fn(db, *args)` in a batch; fires on the reactor after its COMMIT. Once the
        writer is stopping, fails at once with `unavailable`: no thread would take it."""
        job = Job(fn, args)
        with self._ready:
            if self._closing:
                return fail(unavailable("the server is stopping"))
            self.pending += 1
            self._waiting.append(job)
            self._ready.notify()
        return job.deferred

    def _serve(self) -> None:
        """A writer thread: batch after batch until stopped and nothing waits."""
        while batch := self._take():
            began = time.perf_counter()
            try:
                settled, again = run_batch(self.db, batch)
            except BaseException:  # not a job's error (run_batch settles those): this
                # thread keeps serving, and the batch, rolled back, fails
                settled, again = [(job, Failure()) for job in batch], []
            if again:
                with self._ready:
                    self._waiting.extendleft(reversed(again))
                    self._ready.notify()
            busy = time.perf_counter() - began
            self.reactor.callFromThread(self._settle, settled, len(batch), busy)
        self.reactor.callFromThread(self._ended)

    def _take(self) -> list[Job]:
        with self._ready:
            while not self._waiting and not self._closing:
                self._ready.wait()
            count = min(len(self._waiting), self.max_batch)
            return [self._waiting.popleft() for _ in range(count)]

    def _settle(self, settled: Settled, size: int, busy: float) -> None:
        """On the reactor: the outcomes of one batch, committed or failed."""
        self.batches += 1
        self.batch_sizes[size] += 1
        self.busy_s += busy
        for job, outcome in settled:
            self.pending -= 1
            if isinstance(outcome, Failure):
                job.deferred.errback(outcome)
            else:
                self.writes += 1
                job.deferred.callback(outcome)

    def _ended(self) -> None:
        self._running -= 1
        if self._running == 0 and self._stopped is not None:
            self._stopped.callback(None)
