"""The periodic check of the sessions this server's connections are signed in with.

A session can end where this server does not see it: `warung-server user disable` (another
process), an `auth.session.revoke` or password change on another server of a PostgreSQL shop,
or simply its idle or absolute lifetime running out. Every `session_check_s` seconds the
server reads the state of each session it holds and signs out (and tells) the connections
of every one that has ended; the rest are marked used, at most once a `TOUCH_S`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import peewee as pw

from server import sql
from server.clock import Clock
from server.dbexec import Executor
from server.security_log import SecurityLog
from server.services.account_sessions import STATE_COLUMNS, Sessions, ended_reason
from server.services.reauth import moment
from server.wire import utc
from server.write_jobs import write_job

TOUCH_S = 60  # last_used_at is refreshed no more often than this
BATCH = 500  # session ids read in one query


class HeldSessions(Sessions, Protocol):
    def session_ids(self) -> list[int]: ...


class SessionCheck:
    def __init__(
        self, dbx: Executor, clock: Clock, sessions: HeldSessions, security: SecurityLog
    ) -> None:
        self.dbx = dbx
        self.clock = clock
        self.sessions = sessions
        self.security = security

    async def run(self) -> None:
        """Check every session held here once."""
        held = self.sessions.session_ids()
        for start in range(0, len(held), BATCH):
            await self._check(held[start : start + BATCH])

    async def _check(self, ids: list[int]) -> None:
        rows = await self.dbx.read(lambda db: _states(db, ids))
        seconds = self.clock.seconds()
        now = datetime.fromtimestamp(seconds, UTC)
        stale = now - timedelta(seconds=TOUCH_S)
        used = []
        for row in rows:
            reason = ended_reason(row, now)
            if reason is not None:
                self._end(row, reason)
            elif utc(row[3]) <= stale:
                used.append(row[0])
        if used:
            await self.dbx.write(touch_sessions, used, seconds)

    def _end(self, row: tuple[Any, ...], reason: str) -> None:
        session_id, user_id, username = row[0], row[6], row[7]
        if reason == "disabled":
            self.security.record(
                "auth.account_disabled.noticed", "-", user_id, username, session=session_id
            )
        self.sessions.sign_out_session(session_id, reason)


def _states(db: pw.Database, ids: list[int]) -> list[tuple[Any, ...]]:
    marks = ", ".join("?" * len(ids))
    return sql.rows(
        db,
        f"SELECT {STATE_COLUMNS}, u.id, u.username FROM sessions s "
        f"JOIN users u ON u.id = s.user_id WHERE s.id IN ({marks})",
        ids,
    )


@write_job
def touch_sessions(db: pw.Database, ids: list[int], now: float) -> None:
    marks = ", ".join("?" * len(ids))
    sql.execute(
        db, f"UPDATE sessions SET last_used_at = ? WHERE id IN ({marks})", (moment(now), *ids)
    )
