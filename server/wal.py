"""When the SQLite writer truncates the write-ahead log, so that it stays bounded.

The server runs a PASSIVE checkpoint every second on a reader thread (`checkpoint_wal`):
it copies committed pages into the database file without blocking anyone, but it never
makes the WAL smaller. SQLite starts writing the WAL from its beginning again only when a
write transaction begins while every frame is already copied and no reader still reads
from the WAL; under steady writes and reads that moment never comes, so the file grows
with every commit (hundreds of MB a minute) and keeps its size until the server stops.

A TRUNCATE checkpoint resets it: it copies what is left, waits (busy handler) until every
reader has moved off the WAL, then cuts the file to zero bytes. It holds the write lock
meanwhile, so the one process that writes runs it, between two batches, where it contends
with nobody; readers that start during the wait read the database file and do not delay
it. It is run when the WAL passes `limit_bytes` and when writes have gone idle, and waits
for readers at most `wait_ms`: a reader holding an old snapshot longer (a backup) makes it
give up instead of stalling the writes queued behind it.

A checkpoint that gives up tries again `first_retry_s` later, then twice as late each time,
up to `retry_s`. It also gives up when the server's PASSIVE checkpoint holds the checkpoint
lock, and then SQLite fails at once, without waiting. That one runs every second, so a
retry a second later could meet it again, while the writes went on at tens of MB a second
(a WAL of 120 MB where 32 were meant, seen in `tests/e2e/test_writer.py`). A backup that
holds its snapshot for minutes costs the writes a wait of `wait_ms` at each try: five in
its first two seconds, then one a `retry_s`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

import peewee as pw

LIMIT_BYTES = 32 << 20
IDLE_S = 1.0
FIRST_RETRY_S = 0.05
RETRY_S = 1.0
WAIT_MS = 200


class WalKeeper:
    """The writer's TRUNCATE checkpoint policy, for its SQLite connection `db`."""

    def __init__(
        self,
        db: pw.Database,
        limit_bytes: int = LIMIT_BYTES,
        first_retry_s: float = FIRST_RETRY_S,
        retry_s: float = RETRY_S,
        wait_ms: int = WAIT_MS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.db = db
        self.limit_bytes = limit_bytes
        self.first_retry_s = first_retry_s
        self.retry_s = retry_s
        self.wait_ms = wait_ms
        self.clock = clock
        self.truncations = 0
        self.gave_up = 0
        self._wal_path = _wal_path(db)
        self._written = False
        self._next_try = 0.0
        self._retry_in = first_retry_s

    def committed(self) -> None:
        """After a commit: truncate if the WAL has passed the limit."""
        self._written = True
        if self.wal_bytes() > self.limit_bytes and self.clock() >= self._next_try:
            self.truncate()

    def idle_timeout(self) -> float | None:
        """How long the writer may wait for jobs before `idle()` (None: for ever)."""
        return IDLE_S if self._written else None

    def idle(self) -> None:
        """No job came for `idle_timeout()` seconds: truncate what the writes left."""
        if self._written:
            self.truncate()

    def wal_bytes(self) -> int:
        try:
            return os.stat(self._wal_path).st_size
        except FileNotFoundError:
            return 0

    def truncate(self) -> bool:
        """One TRUNCATE checkpoint, waiting for readers at most `wait_ms`; True if done."""
        (timeout,) = self.db.execute_sql("PRAGMA busy_timeout").fetchone()
        self.db.execute_sql(f"PRAGMA busy_timeout = {int(self.wait_ms)}")
        try:
            (busy, _, _) = self.db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        finally:
            self.db.execute_sql(f"PRAGMA busy_timeout = {int(timeout)}")
        if busy:
            self._next_try = self.clock() + self._retry_in
            self._retry_in = min(2 * self._retry_in, self.retry_s)
            self.gave_up += 1
            return False
        self._retry_in = self.first_retry_s
        self._written = False
        self.truncations += 1
        return True


def _wal_path(db: pw.Database) -> str:
    """The WAL file of `db`'s main database (its path, as SQLite resolved it, plus -wal)."""
    rows = db.execute_sql("PRAGMA database_list").fetchall()
    return next(str(path) for _, name, path in rows if name == "main") + "-wal"
