"""PostgreSQL statements that wait for the next round trip (`later`), sent in one with it.

On the bench machine a statement sent alone cost PostgreSQL several times the CPU it cost
as one of ten sent together (an UPDATE by key: 153 against 41 µs), and a checkout made 30
round trips. A statement whose result its job never reads can wait, as text psycopg2 has
bound, and go with the next statement sent: they run in the order the job gave them, and
an error in one skips the rest and fails the job, as it would have alone.

Statements wait only inside `holding` (the PostgreSQL write batch, `server.pg_batch`);
anywhere else `later` runs the statement at once. What a finished job leaves waiting goes
with the next job's first round trip (`Held.hand_over`): if that round trip fails, a
rollback to the next job's savepoint tells whose statement failed, so a job's errors stay
its own. `HoldingPostgresqlDatabase` sends every statement, raw or built by peewee, after
what waits, so nothing overtakes a held one.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import peewee as pw
import psycopg2.extensions

# peewee ships type stubs for peewee, but none for playhouse
from playhouse.pool import PooledPostgresqlDatabase  # type: ignore[import-untyped]

NO_SUCH_SAVEPOINT = "3B001"


class PreviousJobFailed(Exception):
    """A statement the previous job left waiting failed, in the round trip that began this
    job: this job's work is not done (it runs again) and `error` is the previous job's.
    Not a database error, so no job's handler of one takes it for its own."""

    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


class Held:
    """The statements waiting on one thread's connection, for one batch."""

    def __init__(self, db: pw.Database) -> None:
        self.db = db
        self.cursor = db.cursor()  # binds parameters as psycopg2 would when sending
        self.texts: list[bytes] = []
        self.sends = 0  # round trips begun
        self.handed: tuple[str, str] | None = None  # see `hand_over`
        self.undone = False  # a failed round trip undid more than its failing statement

    def add(self, statement: str, params: Sequence[Any] | None = ()) -> None:
        """Hold a statement (psycopg2's `%s` placeholders; with None, no binding at all)."""
        self.texts.append(self.cursor.mogrify(statement, params))

    def send(self, last: bytes = b"") -> Any:
        """Run what waits, and `last` after it, in one round trip; the cursor of the last.
        If it fails carrying a finished job's statements (`hand_over`), `PreviousJobFailed`
        when one of those failed."""
        texts = [*self.texts, last] if last else self.texts
        self.texts = []
        handed, self.handed = self.handed, None
        try:
            return self._execute(b"; ".join(texts))
        except Exception as exc:
            if handed is not None:
                self._find_whose(exc, *handed)
            raise

    def _execute(self, text: bytes | str) -> Any:
        self.sends += 1
        with pw.__exception_wrapper__:  # type: ignore[attr-defined]  # peewee-stubs omit it
            cursor = self.db.cursor()
            cursor.execute(text)
        return cursor

    def hand_over(self, theirs: str, mine: str) -> None:
        """What waits now (if anything) is a finished job's, whose savepoint is `theirs`; the
        next job's savepoint will be `mine`. A round trip carrying it that fails rolls back
        to `mine` to find out whose statement failed (`_find_whose`)."""
        self.handed = (theirs, mine) if self.texts else None

    def _find_whose(self, error: Exception, theirs: str, mine: str) -> None:
        """A round trip that carried a finished job's statements failed. If the next job's
        savepoint `mine` was set, the error is that job's: it is rolled back to its start
        (`undone`: it fails, whatever it does with the error). If not, a statement of the
        finished job failed: `PreviousJobFailed`, with its rollback waiting."""
        try:
            self._execute(f"ROLLBACK TO SAVEPOINT {mine}")
        except Exception as probe:  # peewee's error, psycopg2's as its context
            if getattr(probe.__context__, "pgcode", None) != NO_SUCH_SAVEPOINT:
                return  # the connection, most likely: the error stands, as the batch's
            self.add(f"ROLLBACK TO SAVEPOINT {theirs}", None)
            raise PreviousJobFailed(error) from error
        self.undone = True

    def aborted(self) -> bool:
        """Whether the transaction failed and waits for a rollback (a local check)."""
        status = self.db.connection().info.transaction_status
        return bool(status == psycopg2.extensions.TRANSACTION_STATUS_INERROR)

    def flush(self) -> None:
        """Send what waits, if anything does."""
        if self.texts:
            self.send()

    def keep(self, count: int) -> None:
        """Forget what waits but the first `count` (a job failed before sending its own)."""
        del self.texts[count:]


class _Holding(threading.local):
    held: Held | None = None


_holding = _Holding()


@contextmanager
def holding(db: pw.Database) -> Iterator[Held]:
    """Let `later` statements on this thread wait in the `Held` given, until the block ends."""
    _holding.held = held = Held(db)
    try:
        yield held
    finally:
        _holding.held = None


def _held_for(db: pw.Database) -> Held | None:
    """What waits on this thread's connection of `db` (another database's waits nothing)."""
    held = _holding.held
    return held if held is not None and held.db is db else None


def send_held(db: pw.Database) -> None:
    """Send what waits for `db` now (before a statement that cannot wait its turn)."""
    if (held := _held_for(db)) is not None:
        held.flush()


def later(db: pw.Database, statement: str, params: Sequence[Any] = ()) -> None:
    """Run a PostgreSQL statement (`%s` placeholders) whose result is never read: inside
    `holding` it waits for the next statement and travels with it; elsewhere it runs now."""
    held = _held_for(db)
    if held is None:
        db.execute_sql(statement, params)
    else:
        held.add(statement, params)


class HoldingPostgresqlDatabase(PooledPostgresqlDatabase):
    """The pooled PostgreSQL database, whose statements go after the held ones. Inside
    `holding`, a transaction's BEGIN waits too, its COMMIT carries what still waits, and a
    rollback (to a savepoint, too) forgets what waits: it was all to be undone."""

    def begin(self, isolation_level: str | None = None) -> None:
        held = _held_for(self)
        if held is None or isolation_level is not None or self._isolation_level:
            super().begin(isolation_level)
        else:
            held.add("BEGIN", None)

    def commit(self) -> None:
        held = _held_for(self)
        if held is None or not held.texts:
            super().commit()
        else:
            held.send(b"COMMIT")

    def rollback(self) -> None:
        if (held := _held_for(self)) is not None:
            held.keep(0)
        super().rollback()

    def execute_sql(self, sql: str, params: Sequence[Any] | None = None) -> Any:
        held = _held_for(self)
        if held is not None and sql.startswith("ROLLBACK"):
            held.keep(0)  # everything waiting came after the savepoint, sent before it
        if held is not None and held.texts:
            return held.send(held.cursor.mogrify(sql, params or ()))
        return super().execute_sql(sql, params)
