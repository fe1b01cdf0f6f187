"""One batch of PostgreSQL write jobs: one transaction, a savepoint each, one COMMIT.

The SQLite writer commits the jobs waiting for it together (`server.writer_process`); this
is the same on PostgreSQL, run by several writer threads at once (`server.pg_writer`), so
batches of one server, and of several servers on one database, overlap. A batch holds the
stock rows its jobs moved until its COMMIT, so batches must neither deadlock nor queue
behind each other on those rows:

- A batch first locks the stock rows of every product its jobs declared
  (`server.write_jobs.locks_stock`), in product id order, in one statement (prepared, as
  the jobs' statements are: `server.sql`), with SKIP LOCKED: a job whose products another
  transaction holds is not run in this batch but goes back to the queue, marked patient.
  A batch never waits on a row another batch holds; the others of its jobs run at once.
- A product with no stock left is not locked for a job that would take from it (a cart's
  or a sale's; an order's lines give stock back and are locked whatever the stock): that
  job's conditional UPDATE fails at once, without waiting, as it would alone. A flash
  sale's late buyers are refused side by side instead of one batch after another.
- A patient job's products are locked first in its next batch, waiting for them, in id
  order. A batch waits for declared rows only there, holding nothing but rows of lower ids,
  so those waits cannot form a cycle.
- A job that still meets a deadlock or a serialization failure (a row it did not declare)
  rolls back to its savepoint and runs again in a later batch; the others keep their work.

Round trips are what a batch waits on and what PostgreSQL spends most CPU on, so the
batch's BEGIN, each job's `RELEASE; SAVEPOINT`, a failed job's rollback to its savepoint
and every statement whose result the job never reads wait and go with the next statement
sent (`db.held_statements`), the next job's if need be: a job costs the round trips of the
statements it reads.

A job's outcome is its result as msgpack carries it (as the SQLite writer would give it)
or the Failure it raised; none is known before the COMMIT, and if the connection is lost
or the COMMIT fails, every job of the batch fails with that error (its outcome unknown).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import peewee as pw
import psycopg2
from twisted.internet.defer import Deferred
from twisted.logger import Logger
from twisted.python.failure import Failure

from db.held_statements import Held, PreviousJobFailed, holding
from protocol.codec import packb, unpackb_own
from server import sql
from server.write_jobs import CONNECTION_ERRORS as DB_CONNECTION_ERRORS
from server.write_jobs import StockLocks, stock_locks

CONNECTION_ERRORS = (*DB_CONNECTION_ERRORS, psycopg2.OperationalError)
MAX_ID = 2**31 - 1
PG_RETRIES = 5  # runs of a job that meet a deadlock or serialization failure, at most
WANTED = """WITH claims (job, kind, value, label) AS (
    SELECT * FROM unnest(?::int[], ?::text[], ?::int[], ?::text[])
), wanted (job, product, gives) AS (
    SELECT job, value, false FROM claims WHERE kind = 'products'
    UNION ALL SELECT job, id, false FROM claims JOIN products ON sku = label WHERE kind = 'skus'
    UNION ALL SELECT job, product_id, false FROM claims JOIN cart_lines ON user_id = value
        WHERE kind = 'carts'
    UNION ALL SELECT job, product_id, true FROM claims JOIN order_lines ON order_id = value
        WHERE kind = 'orders'
), lockable AS (
    SELECT product FROM wanted JOIN products ON id = product WHERE gives OR stock > 0
)"""
LOCKED = "SELECT id FROM products WHERE id IN (SELECT product FROM lockable) ORDER BY id "
WAIT_FOR = WANTED + LOCKED + "FOR NO KEY UPDATE"
TAKE_FREE = f"""{WANTED}, taken AS ({LOCKED}FOR NO KEY UPDATE SKIP LOCKED)
SELECT DISTINCT job FROM wanted
WHERE product IN (SELECT product FROM lockable) AND product NOT IN (SELECT id FROM taken)"""

log = Logger()


@dataclass(eq=False)
class Job:
    """A write job waiting for a batch, and who waits for its outcome."""

    fn: Callable[..., Any]
    args: tuple[Any, ...]
    deferred: Deferred[Any] = field(default_factory=Deferred)
    attempts: int = 0  # runs that ended in a deadlock or serialization failure
    patient: bool = False  # put back because another transaction held its products


Settled = list[tuple[Job, Any]]  # each job with its result, or the Failure it ends with


def run_batch(db: pw.Database, jobs: Sequence[Job]) -> tuple[Settled, list[Job]]:
    """Run `jobs` in one transaction; the jobs settled by its COMMIT (or by its failure) with
    their outcomes, and the jobs to run again in a later batch."""
    try:
        with holding(db) as held, db.atomic():
            later = lock_stock(db, jobs)
            ran = _run_jobs(db, held, [job for job in jobs if job not in later])
    except Exception as exc:  # the lock, the connection or the COMMIT: no job happened
        return _batch_failed(db, jobs, exc)
    settled: Settled = []
    again = list(later)
    for job, outcome in ran:
        if isinstance(outcome, Failure) and retry(job, outcome.value):
            again.append(job)
        else:
            settled.append((job, outcome))
    return settled, again


def lock_stock(db: pw.Database, jobs: Sequence[Job]) -> list[Job]:
    """Lock the declared products of `jobs`: the patient ones' waiting, then the others'
    that are free. The jobs not to run now (another transaction holds their products),
    marked patient."""
    claims = [stock_locks(job.fn, job.args) for job in jobs]
    patient = claim_rows(claims, [job.patient for job in jobs])
    if patient[0]:
        sql.rows(db, WAIT_FOR, patient)
    eager = claim_rows(claims, [not job.patient for job in jobs])
    if not eager[0]:
        return []
    later = [jobs[i] for (i,) in sql.rows(db, TAKE_FREE, eager)]
    for job in later:
        job.patient = True
    return later


def claim_rows(
    claims: Sequence[StockLocks | None], chosen: Sequence[bool]
) -> tuple[list[Any], ...]:
    """The chosen claims as `WANTED` takes them, column by column: job index, kind, and the
    id (an INTEGER column's) or the sku (a string) it names. Others are left out: their job
    fails on its own."""
    rows = [
        (i, kind, value, None) if kind != "skus" else (i, kind, None, value)
        for i, claim in enumerate(claims)
        if claim is not None and chosen[i]
        for kind in ("products", "skus", "carts", "orders")
        for value in getattr(claim, kind)
        if (type(value) is str if kind == "skus" else type(value) is int and 0 < value <= MAX_ID)
    ]
    return tuple(list(column) for column in zip(*rows, strict=True)) if rows else ([],) * 4


def _run_jobs(db: pw.Database, held: Held, jobs: Sequence[Job]) -> list[tuple[Job, Any]]:
    """Each job under a savepoint of its own, named `job_a` and `job_b` in turn. A job's
    savepoint (and the release of the one before, or the batch's BEGIN) waits for its first
    statement, and what a job leaves waiting goes with the next job's first round trip
    (`Held.hand_over`; at its own end if it is the last, or if it sent nothing while the
    job before's waited, so that no round trip carries two finished jobs' statements): if
    that round trip fails on the finished job's statement, that job fails instead and this
    one runs again. A job that fails before any of it went out has nothing to undo; one
    that sent something is rolled back to its savepoint first thing in the next round trip
    (a lost connection then fails that job, and the COMMIT the batch)."""
    ran: list[tuple[Job, Any]] = []
    waiting = deque(jobs)
    opened: str | None = None  # the savepoint of `ran[owner]`: set, or waiting to be
    owner = -1
    while waiting:
        job = waiting.popleft()
        mine = "job_b" if opened == "job_a" else "job_a"
        if opened is not None and not isinstance(ran[owner][1], Failure):
            held.hand_over(opened, mine)
        before, sends = len(held.texts), held.sends
        held.add(f"RELEASE SAVEPOINT {opened}; SAVEPOINT {mine}" if opened else f"SAVEPOINT {mine}")
        try:
            outcome = _run_job(db, held, job, last=not waiting, sends=sends)
        except PreviousJobFailed as failed:
            ran[owner] = _failed(ran[owner][0], failed)
            waiting.appendleft(job)
            continue
        except Exception:
            outcome = Failure()
            if held.sends == sends:  # nothing of it went out: nothing to undo
                held.keep(before)
                ran.append((job, outcome))
                continue
            held.keep(0)  # undone with the next statement sent, or the COMMIT
            held.add(f"ROLLBACK TO SAVEPOINT {mine}")
        opened, owner = mine, len(ran)
        ran.append((job, outcome))
    if held.handed is not None:  # the jobs after `ran[owner]` failed before sending anything
        try:
            held.flush()
        except PreviousJobFailed as failed:
            ran[owner] = _failed(ran[owner][0], failed)
    return ran


def _run_job(db: pw.Database, held: Held, job: Job, last: bool, sends: int) -> Any:
    """`job`'s result as msgpack carries it (one that cannot travel fails the job, as from
    the SQLite writer). What it leaves waiting goes now if it is the `last`, or if it sent
    nothing while the job before's waited. A job that swallowed a statement's error, or
    whose round trip failed and was undone past that statement (`Held.undone`), fails with
    `InternalError`: some of its work is gone."""
    held.undone = False
    outcome = unpackb_own(packb(job.fn(db, *job.args)))
    if last or (held.handed is not None and held.sends == sends):
        held.flush()
    if held.undone or (held.sends != sends and held.aborted()):
        raise pw.InternalError("a statement of this write failed unseen")
    return outcome


def _failed(job: Job, failed: PreviousJobFailed) -> tuple[Job, Failure]:
    """`job`, whose waiting statement failed in the next job's round trip, with its error."""
    return job, Failure(failed.error)


def retry(job: Job, error: BaseException) -> bool:
    """Whether `job`, which ended in `error`, runs again (counting this attempt)."""
    if not isinstance(error, Exception) or not retryable(error):
        return False
    job.attempts += 1
    if job.attempts >= PG_RETRIES:
        return False
    log.info("running a write again after {error}", error=error)
    return True


def _batch_failed(
    db: pw.Database, jobs: Sequence[Job], exc: Exception
) -> tuple[Settled, list[Job]]:
    """Nothing of the batch was committed: a deadlock or serialization failure of the batch
    as a whole runs every job again; any other error is every job's outcome (a lost
    connection, dropped here: whether the COMMIT happened is unknown)."""
    failure = Failure()
    if isinstance(exc, CONNECTION_ERRORS) and not retryable(exc):
        drop_connection(db)
    again = [job for job in jobs if retry(job, exc)]
    return [(job, failure) for job in jobs if job not in again], again


def drop_connection(db: pw.Database) -> None:
    """Forget this thread's connection, so its next use opens a new one."""
    try:
        db.close()
    except Exception:  # already broken: nothing to hand back to the pool
        log.info("dropped a broken database connection")


def retryable(exc: Exception) -> bool:
    """A serialization failure or deadlock, raised raw by psycopg2 or wrapped by peewee (which
    keeps psycopg2's error only as the context of its own)."""
    return any(
        getattr(candidate, "pgcode", None) in ("40001", "40P01")
        for candidate in (exc, exc.__context__)
    )
