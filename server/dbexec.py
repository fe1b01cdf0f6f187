"""Peewee work off the reactor thread: a group-committing writer and a pool of readers.

SQLite has one writer, so every write runs on one thread that takes all the writes waiting
in its queue, runs each inside its own savepoint of one transaction, and commits them
together (group commit): one failing write rolls back only its own savepoint. The outcome of
each write reaches its Deferred on the reactor thread only after the commit, so nothing a
caller does with it (answering, publishing events) can run for a change that is rolled back.

PostgreSQL takes several writers at once: each write runs in its own transaction on a
worker thread, and correctness comes from the SQL itself (conditional updates), never from
a lock held in this process. Serialization failures and deadlocks are retried.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import peewee as pw
import psycopg2
from twisted.internet.defer import Deferred
from twisted.internet.threads import deferToThreadPool
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.python.threadpool import ThreadPool

from db.transactions import write_transaction
from protocol.errors import Unavailable

T = TypeVar("T")
Work = Callable[[pw.Database], T]
MAX_BATCH = 256
CONNECTION_ERRORS = (pw.OperationalError, pw.InterfaceError, psycopg2.OperationalError)
RETRY_AFTER_MS = 1000
PG_RETRIES = 5

log = Logger()


@dataclass
class _Job:
    work: Work[Any]
    deferred: Deferred[Any] = field(default_factory=Deferred)


_STOP = object()


def is_postgres(db: pw.Database) -> bool:
    return isinstance(db, pw.PostgresqlDatabase)


class DatabaseExecutor:
    """Runs read and write work for the reactor, returning Deferreds."""

    def __init__(self, db: pw.Database, reactor: Any, readers: int = 4, writers: int = 8) -> None:
        self.db = db
        self.reactor = reactor
        self.postgres = is_postgres(db)
        self._readers = ThreadPool(1, readers, name="warung-read")
        self._pg_writers = ThreadPool(1, writers, name="warung-write") if self.postgres else None
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._writer: threading.Thread | None = None
        self.batches = 0
        self.writes = 0
        self.busy_s = 0.0

    def start(self) -> None:
        self._readers.start()
        if self._pg_writers is not None:
            self._pg_writers.start()
        else:
            self._writer = threading.Thread(
                target=self._write_loop, name="warung-writer", daemon=True
            )
            self._writer.start()

    def stop(self) -> None:
        """Finish queued writes, then stop every thread (blocking; call at shutdown)."""
        if self._writer is not None:
            self._queue.put(_STOP)
            self._writer.join()
            self._writer = None
        if self._pg_writers is not None:
            self._pg_writers.stop()
        self._readers.stop()

    def read(self, work: Work[T]) -> Deferred[T]:
        """Run `work(db)` on a reader thread, outside any explicit transaction."""
        d = deferToThreadPool(self.reactor, self._readers, self._run_read, work)
        return d.addErrback(_database_down)

    def write(self, work: Work[T]) -> Deferred[T]:
        """Run `work(db)` in a transaction; the Deferred fires after the commit."""
        if self._pg_writers is not None:
            d = deferToThreadPool(self.reactor, self._pg_writers, self._run_pg_write, work)
        else:
            job = _Job(work)
            self._queue.put(job)
            d = job.deferred
        return d.addErrback(_database_down)

    def _run_read(self, work: Work[T]) -> T:
        """Reads are retried once on a fresh connection (a database restart or failover
        leaves each worker thread holding a dead one)."""
        try:
            return work(self.db)
        except CONNECTION_ERRORS:
            self._drop_connection()
            return work(self.db)

    def _drop_connection(self) -> None:
        """Forget this thread's connection, so its next use opens a new one."""
        try:
            self.db.close()
        except Exception:  # already broken: nothing to hand back to the pool
            log.info("dropped a broken database connection")

    def _run_pg_write(self, work: Work[T]) -> T:
        for attempt in range(PG_RETRIES):
            try:
                with self.db.atomic():
                    return work(self.db)
            except Exception as exc:
                if _retryable(exc) and attempt < PG_RETRIES - 1:
                    log.info("retrying a write after {error}", error=exc)
                    continue
                if isinstance(exc, CONNECTION_ERRORS):
                    self._drop_connection()  # not retried: the commit may have happened
                raise
        raise AssertionError("unreachable")

    def _write_loop(self) -> None:
        while True:
            first = self._queue.get()
            if first is _STOP:
                return
            batch = [first]
            stop = False
            while len(batch) < MAX_BATCH:
                try:
                    job = self._queue.get_nowait()
                except queue.Empty:
                    break
                if job is _STOP:
                    stop = True
                    break
                batch.append(job)
            self._run_batch(batch)
            if stop:
                return

    def _run_batch(self, batch: list[_Job]) -> None:
        began = time.perf_counter()
        outcomes: list[tuple[bool, Any]] = []
        try:
            with write_transaction(self.db):
                for job in batch:
                    outcomes.append(self._run_savepoint(job.work))
        except Exception as exc:  # the commit itself failed: every write in it failed
            log.failure("group commit of {n} writes failed", n=len(batch))
            outcomes = [(False, exc)] * len(batch)
        self.batches += 1
        self.writes += len(batch)
        self.busy_s += time.perf_counter() - began
        self.reactor.callFromThread(_deliver, batch, outcomes)

    def _run_savepoint(self, work: Work[Any]) -> tuple[bool, Any]:
        """One write of the batch, in its own savepoint (plain SQL: peewee's costs 8x more)."""
        conn = self.db.connection()
        conn.execute("SAVEPOINT job")
        try:
            result = work(self.db)
        except Exception as exc:
            conn.execute("ROLLBACK TO job")
            conn.execute("RELEASE job")
            return False, exc
        conn.execute("RELEASE job")
        return True, result


def _deliver(batch: list[_Job], outcomes: list[tuple[bool, Any]]) -> None:
    for job, (ok, value) in zip(batch, outcomes, strict=True):
        if ok:
            job.deferred.callback(value)
        else:
            job.deferred.errback(value)


def _database_down(failure: Failure) -> Failure:
    """A database that cannot be reached (or stays locked) is `unavailable`, not a bug."""
    if failure.check(*CONNECTION_ERRORS):
        log.warn("database unavailable: {error}", error=failure.getErrorMessage())
        return Failure(
            Unavailable(
                "the database is unavailable: try again shortly",
                {"retry_after_ms": RETRY_AFTER_MS},
            )
        )
    return failure


def _retryable(exc: Exception) -> bool:
    """A serialization failure or deadlock, raised raw by psycopg2 or wrapped by peewee."""
    original = exc.args[0] if exc.args and isinstance(exc.args[0], Exception) else exc
    return getattr(original, "pgcode", None) in ("40001", "40P01")
