"""Database work off the reactor thread: writes to one writer, reads on a pool of threads
taken from each connection in turn.

On SQLite every write goes to the writer process (`server.writer_process`), which commits
the writes waiting for it together (group commit), each in its own savepoint. On
PostgreSQL, which takes several writers at once, writer threads do the same, several
batches at a time (`server.pg_writer`, `server.pg_batch`); correctness comes from the SQL
itself (conditional updates, rows locked in product order), never from a lock held in this
process; serialization failures and deadlocks are retried.

Either way a write is a `@write_job` function and its arguments, and its outcome is the
same: the result as msgpack carries it, or the `WarungError` it raised, delivered on the
reactor thread only after the commit.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

import peewee as pw
from twisted.internet.defer import Deferred
from twisted.internet.threads import deferToThreadPool
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.python.threadpool import ThreadPool

from server.fair_reads import FairReads
from server.pg_batch import CONNECTION_ERRORS, drop_connection
from server.pg_writer import THREADS, PgWriter
from server.write_jobs import job_name, unavailable
from server.write_slots import WriteSlots
from server.writer_link import WriterLink

T = TypeVar("T")

log = Logger()

WRITES_AT_ONCE = 4  # a connection's writes at the writer at once (`server.write_slots`)


def is_postgres(db: pw.Database) -> bool:
    return isinstance(db, pw.PostgresqlDatabase)


class Executor(Protocol):
    """What the services use of a `DatabaseExecutor`: reads on a reader thread and write
    jobs through the writer, each as a Deferred fired on the reactor thread."""

    def read(self, work: Callable[[pw.Database], T]) -> Deferred[T]: ...

    def write(self, job: Callable[..., T], *args: Any) -> Deferred[T]: ...


class DatabaseExecutor:
    """Runs read and write work for the reactor, returning Deferreds."""

    def __init__(
        self, db: pw.Database, reactor: Any, url: str, readers: int = 4, writers: int = THREADS
    ) -> None:
        self.db = db
        self.reactor = reactor
        self.postgres = is_postgres(db)
        self._readers = ThreadPool(1, readers, name="warung-read")
        self._reads = FairReads(readers)
        self._writes = WriteSlots(WRITES_AT_ONCE)
        self._writer: WriterLink | PgWriter = (
            PgWriter(db, reactor, writers) if self.postgres else WriterLink(reactor, url)
        )

    @property
    def writes(self) -> int:
        return self._writer.writes

    @property
    def batches(self) -> int:
        return self._writer.batches

    @property
    def busy_s(self) -> float:
        return self._writer.busy_s

    @property
    def batch_sizes(self) -> Counter[int]:
        """Commits by how many writes each held."""
        return self._writer.batch_sizes

    @property
    def pending(self) -> int:
        """Writes submitted and not yet committed (or failed)."""
        return self._writer.pending

    @property
    def held(self) -> int:
        """Writes waiting in the server for their connection's turn at the writer."""
        return self._writes.held

    @property
    def writer_up(self) -> bool:
        """Whether writes are taken: the SQLite writer process is running (not restarting),
        or the PostgreSQL writer threads are."""
        return self._writer.up

    def start(self) -> Deferred[None]:
        """Start the threads and the writer; fires when the writer is ready."""
        self._readers.start()
        return self._writer.start()

    def stop(self) -> Deferred[None]:
        """Finish queued writes, then stop the writer and every thread."""
        done = self._writer.stop()

        def threads(result: Any) -> Any:
            self._readers.stop()
            return result

        return done.addBoth(threads)

    def on_writer_restart(self, listener: Callable[[float], object]) -> None:
        """Call `listener(died_at)` each time the SQLite writer is back after dying at
        `died_at` (the reactor's time); the jobs it held failed with `unavailable`, their
        outcome unknown. PostgreSQL has no writer process: never called there."""
        if isinstance(self._writer, WriterLink):
            self._writer.restarted.append(listener)

    def read(self, work: Callable[[pw.Database], T]) -> Deferred[T]:
        """Run `work(db)` on a reader thread, outside any explicit transaction, when its
        connection's turn comes (`server.fair_reads`)."""
        return self._reads.submit(
            lambda: deferToThreadPool(self.reactor, self._readers, self._run_read, work)
        ).addErrback(_database_down)

    def write(self, job: Callable[..., T], *args: Any) -> Deferred[T]:
        """Run the write job `job(db, *args)` in a transaction once its connection has a slot
        free (`server.write_slots`); fires after the commit."""
        return self._writes.submit(lambda: self._submit(job, args))

    def _submit(self, job: Callable[..., T], args: tuple[Any, ...]) -> Deferred[T]:
        if isinstance(self._writer, WriterLink):
            return self._writer.submit(job_name(job), args)
        return self._writer.submit(job, args).addErrback(_database_down)

    def _run_read(self, work: Callable[[pw.Database], T]) -> T:
        """Reads are retried once on a fresh connection (a database restart or failover
        leaves each worker thread holding a dead one)."""
        try:
            return work(self.db)
        except CONNECTION_ERRORS:
            drop_connection(self.db)
            return work(self.db)


def _database_down(failure: Failure) -> Failure:
    """A database that cannot be reached (or stays locked) is `unavailable`, not a bug."""
    if failure.check(*CONNECTION_ERRORS):
        log.warn("database unavailable: {error}", error=failure.getErrorMessage())
        return Failure(unavailable(" ".join(failure.getErrorMessage().split())))
    return failure
