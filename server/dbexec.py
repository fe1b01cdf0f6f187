"""Database work off the reactor thread: writes to one writer, reads on a pool of threads.

On SQLite every write goes to the writer process (`server.writer_process`), which commits
the writes waiting for it together (group commit), each in its own savepoint. On
PostgreSQL, which takes several writers at once, each write runs in its own transaction
on a worker thread, and correctness comes from the SQL itself (conditional updates), never
from a lock held in this process; serialization failures and deadlocks are retried.

Either way a write is a `@write_job` function and its arguments, and its outcome is the
same: the result as msgpack carries it, or the `WarungError` it raised, delivered on the
reactor thread only after the commit.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any, TypeVar

import peewee as pw
import psycopg2  # type: ignore[import-untyped]  # no stubs here (types-psycopg2)
from twisted.internet.defer import Deferred, succeed
from twisted.internet.threads import deferToThreadPool
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.python.threadpool import ThreadPool

from protocol.codec import packb, unpackb
from server.write_jobs import CONNECTION_ERRORS as DB_CONNECTION_ERRORS
from server.write_jobs import job_name, unavailable
from server.writer_link import WriterLink

T = TypeVar("T")
CONNECTION_ERRORS = (*DB_CONNECTION_ERRORS, psycopg2.OperationalError)
PG_RETRIES = 5

log = Logger()


def is_postgres(db: pw.Database) -> bool:
    return isinstance(db, pw.PostgresqlDatabase)


class DatabaseExecutor:
    """Runs read and write work for the reactor, returning Deferreds."""

    def __init__(
        self, db: pw.Database, reactor: Any, url: str, readers: int = 4, writers: int = 8
    ) -> None:
        self.db = db
        self.reactor = reactor
        self.postgres = is_postgres(db)
        self._readers = ThreadPool(1, readers, name="warung-read")
        self._pg_writers = ThreadPool(1, writers, name="warung-write") if self.postgres else None
        self._writer = None if self.postgres else WriterLink(reactor, url)
        self._pg_writes = 0
        self._pg_pending = 0

    @property
    def writes(self) -> int:
        return self._pg_writes if self._writer is None else self._writer.writes

    @property
    def batches(self) -> int:
        return self._pg_writes if self._writer is None else self._writer.batches

    @property
    def busy_s(self) -> float:
        return 0.0 if self._writer is None else self._writer.busy_s

    @property
    def batch_sizes(self) -> Counter[int]:
        """Commits by how many writes each held: on PostgreSQL, one each."""
        if self._writer is None:
            return Counter({1: self._pg_writes} if self._pg_writes else {})
        return self._writer.batch_sizes

    @property
    def pending(self) -> int:
        """Writes submitted and not yet committed (or failed)."""
        return self._pg_pending if self._writer is None else self._writer.pending

    @property
    def writer_up(self) -> bool:
        """Whether writes are taken: the SQLite writer process is running (not restarting),
        or the PostgreSQL writer threads are."""
        if self._writer is not None:
            return self._writer.up
        assert self._pg_writers is not None
        return bool(self._pg_writers.started) and not self._pg_writers.joined

    def start(self) -> Deferred[None]:
        """Start the threads and the writer; fires when the writer is ready."""
        self._readers.start()
        if self._pg_writers is not None:
            self._pg_writers.start()
        return succeed(None) if self._writer is None else self._writer.start()

    def stop(self) -> Deferred[None]:
        """Finish queued writes, then stop the writer and every thread."""
        done = succeed(None) if self._writer is None else self._writer.stop()

        def threads(result: Any) -> Any:
            if self._pg_writers is not None:
                self._pg_writers.stop()
            self._readers.stop()
            return result

        return done.addBoth(threads)

    def on_writer_restart(self, listener: Callable[[float], object]) -> None:
        """Call `listener(died_at)` each time the SQLite writer is back after dying at
        `died_at` (the reactor's time); the jobs it held failed with `unavailable`, their
        outcome unknown. PostgreSQL has no writer process: never called there."""
        if self._writer is not None:
            self._writer.restarted.append(listener)

    def read(self, work: Callable[[pw.Database], T]) -> Deferred[T]:
        """Run `work(db)` on a reader thread, outside any explicit transaction."""
        d = deferToThreadPool(self.reactor, self._readers, self._run_read, work)
        return d.addErrback(_database_down)

    def write(self, job: Callable[..., T], *args: Any) -> Deferred[T]:
        """Run the write job `job(db, *args)` in a transaction; fires after the commit."""
        name = job_name(job)
        if self._writer is not None:
            return self._writer.submit(name, args)
        assert self._pg_writers is not None, "on PostgreSQL, writes have threads of their own"
        self._pg_pending += 1
        d = deferToThreadPool(self.reactor, self._pg_writers, self._run_pg_write, job, args)
        return d.addCallbacks(self._pg_written, self._pg_failed).addErrback(_database_down)

    def _pg_written(self, result: T) -> T:
        self._pg_pending -= 1
        self._pg_writes += 1
        return result

    def _pg_failed(self, failure: Failure) -> Failure:
        self._pg_pending -= 1
        return failure

    def _run_read(self, work: Callable[[pw.Database], T]) -> T:
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

    def _run_pg_write(self, job: Callable[..., T], args: tuple[Any, ...]) -> T:
        """The job in its own transaction, its result as the writer process would give it
        (a result that cannot travel fails the job before its commit, as it would there)."""
        for attempt in range(PG_RETRIES):
            try:
                with self.db.atomic():
                    packed = packb(job(self.db, *args))
                return unpackb(packed)
            except Exception as exc:
                if _retryable(exc) and attempt < PG_RETRIES - 1:
                    log.info("retrying a write after {error}", error=exc)
                    continue
                if isinstance(exc, CONNECTION_ERRORS):
                    self._drop_connection()  # not retried: the commit may have happened
                raise
        raise AssertionError("unreachable")


def _database_down(failure: Failure) -> Failure:
    """A database that cannot be reached (or stays locked) is `unavailable`, not a bug."""
    if failure.check(*CONNECTION_ERRORS):
        log.warn("database unavailable: {error}", error=failure.getErrorMessage())
        return Failure(unavailable(" ".join(failure.getErrorMessage().split())))
    return failure


def _retryable(exc: Exception) -> bool:
    """A serialization failure or deadlock, raised raw by psycopg2 or wrapped by peewee (which
    keeps psycopg2's error only as the context of its own)."""
    return any(
        getattr(candidate, "pgcode", None) in ("40001", "40P01")
        for candidate in (exc, exc.__context__)
    )
