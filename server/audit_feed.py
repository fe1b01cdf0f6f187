"""The audit log's feed from the security log: sign-ins and refusals, written in batches.

Privileged ops write their own entry in their own transaction (`server.audit`); sign-ins,
their failures and throttles, account events and authorization refusals happen outside
any write, so they reach the audit log from the security log (`SecurityLog.listeners`):
the lines of events of `AUDITED`, after its flood gate. The gate writes a few lines per
event, address, op and user a minute and one summary of the rest, so the audit log keeps
exactly what the security log keeps (a flood becomes one summary entry, `details.summary`
true with `suppressed`, `first`, `last`), never a row per refused request.

Rows wait in a bounded queue and go to the writer together, one write job at a time, at
most one a `FLUSH_S`: a burst costs one transaction, not one per event. Should the queue
fill (the database down for long), further rows are counted and written later as one
`audit.dropped` entry with the count, so a loss is never silent. docs/security-log.md.
"""

from __future__ import annotations

from collections import deque
from datetime import UTC, datetime
from typing import Any

import peewee as pw
from twisted.internet.defer import Deferred, succeed
from twisted.logger import Logger

from db.audit_entry import target_of
from server.audit import audit
from server.clock import Clock
from server.dbexec import Executor
from server.write_jobs import write_job

log = Logger()
AUDITED_PREFIXES = ("auth.", "authz.")  # sign-ins, account events, authorization refusals
MAX_QUEUED = 1000  # rows waiting for the writer; past it they are counted
FLUSH_S = 1.0  # rows of one second go in one write
DROPPED = "audit.dropped"
Row = tuple[int | None, str, str | None, dict[str, Any], str]  # user, action, target, details, at


class AuditFeed:
    """A `SecurityLog` listener that queues audit rows and writes them in batches."""

    def __init__(self, dbx: Executor, clock: Clock, max_queued: int = MAX_QUEUED) -> None:
        self.dbx = dbx
        self.clock = clock
        self.max_queued = max_queued
        self.queue: deque[Row] = deque()
        self.dropped = 0
        self._timer: Any = None
        self._writing: Deferred[None] | None = None

    def __call__(self, entry: dict[str, Any]) -> None:
        """Take one security log entry (as written); queue it if it is one the audit keeps."""
        if not entry["event"].startswith(AUDITED_PREFIXES):
            return
        if len(self.queue) >= self.max_queued:
            self.dropped += 1
        else:
            self.queue.append(row_of(entry))
        self._schedule()

    def _schedule(self) -> None:
        if self._timer is None and self._writing is None:
            self._timer = self.clock.callLater(FLUSH_S, self.flush)

    def flush(self) -> Deferred[None]:
        """Write what is queued now, unless a write is under way; fires when written."""
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None
        if self._writing is not None:
            return self._writing
        rows = self._take()
        if not rows:
            return succeed(None)
        writing = self._writing = self.dbx.write(write_audit_rows, rows)
        writing.addCallbacks(lambda _: None, self._failed, errbackArgs=(len(rows),))
        writing.addBoth(self._written)
        return writing

    async def drain(self) -> None:
        """Write everything queued, waiting for a write under way (the server stops)."""
        while self._writing is not None or self.queue:
            await self.flush()

    def _take(self) -> list[Row]:
        rows = list(self.queue)
        self.queue.clear()
        if self.dropped:
            now = _stored(self.clock.seconds())
            rows.append((None, DROPPED, None, {"count": self.dropped}, now))
            self.dropped = 0
        return rows

    def _failed(self, failure: Any, count: int) -> None:
        log.failure("writing {count} audit entries failed", failure, count=count)
        self.dropped += count

    def _written(self, _: Any) -> None:
        self._writing = None
        if self.queue or self.dropped:
            self._schedule()


def row_of(entry: dict[str, Any]) -> Row:
    """The audit row of a security log entry: `action` its event, `user_id` the account
    that acted (nil when none did: a failed sign-in, a client not signed in), `target`
    that account or the one a failed sign-in tried (`account_id`), `details` the rest
    (address, name tried, op, reason, a summary's count)."""
    user_id = entry.get("user_id")
    details = {
        key: value
        for key, value in entry.items()
        if key not in ("ts", "event", "user_id", "account_id") and value is not None
    }
    account = user_id if user_id is not None else entry.get("account_id")
    target = None if account is None else target_of("user", account)
    return (user_id, entry["event"], target, details, _stored(_seconds(entry["ts"])))


def _seconds(ts: str) -> float:
    return datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()


def _stored(seconds: float) -> str:
    """A time as `sql.now()` gives it: naive UTC text."""
    return str(datetime.fromtimestamp(seconds, UTC).replace(tzinfo=None))


@write_job
def write_audit_rows(db: pw.Database, rows: list[Row]) -> None:
    """Add the rows (msgpack brings each as a list) to the audit log, in one transaction."""
    for user_id, action, target, details, at in rows:
        audit(db, user_id, action, target, details, at)
