"""An account's sessions: started by sign-in, resumed by token, listed, revoked, and ended
by their idle and absolute lifetimes (PROTOCOL.md 10.4).

A session is *used* when it signs in (`auth.login`, `auth.resume`) and while a connection
on this or another server is signed in with it (`SessionCheck` refreshes `last_used_at`), so
the idle lifetime ends sessions that nobody holds, and the absolute one ends every session.
The lifetimes are chosen by the role at sign-in: staff sessions are shorter.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import peewee as pw

from protocol.errors import NotFound, Unauthenticated
from protocol.rules import STAFF_ROLES
from server import sql
from server.clock import Clock
from server.dbexec import Executor
from server.dispatch import Call
from server.limits import Limits
from server.security_log import SecurityLog
from server.services.reauth import moment
from server.services.totp import SecondFactor, spend
from server.wire import USER_COLUMNS, user, utc
from server.write_jobs import write_job


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Sessions(Protocol):
    """What ending a session needs of the connections: every one on it signed out and told."""

    def sign_out_session(self, session_id: int, reason: str = "logout") -> None: ...


@dataclass(frozen=True)
class SessionLifetimes:
    """Idle and absolute lifetimes in seconds, for customers and for staff, and how many
    sessions an account keeps live at once (`per_account`)."""

    idle_s: int = Limits.session_idle_s
    absolute_s: int = Limits.session_absolute_s
    staff_idle_s: int = Limits.staff_session_idle_s
    staff_absolute_s: int = Limits.staff_session_absolute_s
    per_account: int = Limits.sessions_per_account

    @classmethod
    def of(cls, limits: Limits) -> SessionLifetimes:
        return cls(
            limits.session_idle_s,
            limits.session_absolute_s,
            limits.staff_session_idle_s,
            limits.staff_session_absolute_s,
            limits.sessions_per_account,
        )

    def for_role(self, role: str) -> list[int]:
        """[absolute, idle] seconds for a session of `role`."""
        if role in STAFF_ROLES:
            return [self.staff_absolute_s, self.staff_idle_s]
        return [self.absolute_s, self.idle_s]


def ended_reason(row: tuple[Any, ...], now: datetime) -> str | None:
    """Why a session (a row of `STATE_COLUMNS`) has ended at `now`, or None if it goes on."""
    revoked_at, expires_at, last_used_at, idle_s, disabled = row[1:6]
    if disabled:
        return "disabled"
    if revoked_at is not None:
        return "revoked"
    if utc(expires_at) <= now:
        return "expired"
    if utc(last_used_at) + timedelta(seconds=idle_s) <= now:
        return "idle"
    return None


STATE_COLUMNS = (
    "s.id, s.revoked_at, s.expires_at, COALESCE(s.last_used_at, s.created_at), s.idle_s, u.disabled"
)


class AccountSessions:
    """Starting and resuming sessions for `AuthService`, and the auth.session.* ops."""

    def __init__(
        self,
        dbx: Executor,
        clock: Clock,
        sessions: Sessions,
        security: SecurityLog,
        lifetimes: SessionLifetimes,
    ) -> None:
        self.dbx = dbx
        self.clock = clock
        self.sessions = sessions
        self.security = security
        self.lifetimes = lifetimes

    async def start(
        self, call: Call, row: tuple[Any, ...], factor: SecondFactor
    ) -> tuple[str, int]:
        """A new session for the user `row` (id, username, role, ...) after spending its
        second factor: (token, session id). The account's least recently used sessions past
        `per_account` end, so that no account's sessions grow without bound."""
        token, peer = secrets.token_urlsafe(32), call.peer
        session_id, spent, ended = await self.dbx.write(
            start_session,
            row[0],
            token_hash(token),
            factor.to_job(),
            self.clock.seconds(),
            [*self.lifetimes.for_role(row[2]), self.lifetimes.per_account],
            [peer.address, peer.client_name],
        )
        self.signed_out(ended, "session_limit")
        if ended:  # someone signing in again and again ends the account's other devices
            self.security.record(
                "auth.session.limit", peer.address, row[0], row[1], sessions=len(ended)
            )
        if spent == "recovery_code":
            self.security.record("auth.recovery_code.used", peer.address, row[0], row[1])
        return token, session_id

    async def resume(self, call: Call) -> tuple[int, dict[str, Any]]:
        """(session id, user map) of a live session with the call's token."""
        peer = call.peer
        found = await self.dbx.write(
            resume_session,
            token_hash(call.args["token"]),
            self.clock.seconds(),
            [peer.address, peer.client_name],
        )
        if found is None:
            raise Unauthenticated("the session token is not valid: sign in again")
        return found[0], found[1]

    async def logout(self, call: Call) -> dict[str, Any]:
        me = call.identity
        if not call.args.get("everywhere"):
            await self.dbx.write(revoke_sessions, me.user_id, me.session_id, None, self._now())
            self.sessions.sign_out_session(me.session_id, "logout")
            return {}
        ended = await self.end_all(me.user_id, None, "logout_everywhere")
        self.security.record(
            "auth.logout.everywhere", call.peer.address, me.user_id, me.username, sessions=ended
        )
        return {}

    async def end_all(self, user_id: int, keep: int | None, reason: str) -> int:
        """Revoke every session of the user but `keep`. Returns how many."""
        ended = await self.dbx.write(revoke_sessions, user_id, None, keep, self._now())
        self.signed_out(ended, reason)
        return len(ended)

    def signed_out(self, ended: list[int], reason: str) -> None:
        """The connections here on the `ended` sessions are signed out and told now; those
        on other servers at those servers' next `SessionCheck`."""
        for session_id in ended:
            self.sessions.sign_out_session(session_id, reason)

    async def list(self, call: Call) -> dict[str, Any]:
        me, now = call.identity, datetime.fromtimestamp(self._now(), UTC)
        most = self.lifetimes.per_account
        rows = await self.dbx.read(lambda db: _sessions_of(db, me.user_id, most))
        live = [r for r in rows if ended_reason(r, now) is None]
        return {"sessions": [_session(r, me.session_id) for r in live]}

    async def revoke(self, call: Call) -> dict[str, Any]:
        me, session_id = call.identity, call.args["session_id"]
        ended = await self.dbx.write(revoke_sessions, me.user_id, session_id, None, self._now())
        if not ended:
            raise NotFound(
                f"you have no live session {session_id}: auth.session.list shows yours",
                {"kind": "session", "id": session_id},
            )
        self.sessions.sign_out_session(session_id, "revoked")
        self.security.record(
            "auth.session.revoked", call.peer.address, me.user_id, me.username, session=session_id
        )
        return {}

    def _now(self) -> float:
        return self.clock.seconds()


def _sessions_of(db: pw.Database, user_id: int, most: int) -> list[tuple[Any, ...]]:
    """The user's `most` newest sessions not revoked (some may have run out)."""
    return sql.rows(
        db,
        f"SELECT {STATE_COLUMNS}, s.created_at, s.address, s.client FROM sessions s "
        "JOIN users u ON u.id = s.user_id WHERE s.user_id = ? AND s.revoked_at IS NULL "
        "ORDER BY s.id DESC LIMIT ?",
        (user_id, most),
    )


def _session(row: tuple[Any, ...], current: int) -> dict[str, Any]:
    last_used = utc(row[3])
    return {
        "id": row[0],
        "created_at": utc(row[6]),
        "last_used_at": last_used,
        "expires_at": min(utc(row[2]), last_used + timedelta(seconds=row[4])),
        "address": row[7],
        "client": row[8],
        "current": row[0] == current,
    }


@write_job
def start_session(
    db: pw.Database,
    user_id: int,
    digest: str,
    factor: list[Any],
    now: float,
    rules: list[int],
    where: list[str],
) -> list[Any]:
    """Spend the second factor, insert the session, and revoke the user's least recently
    used sessions past the `per_account` newest: [session id, factor spent, ids revoked].
    `rules` is [absolute_s, idle_s, per_account]."""
    spent = spend(db, user_id, factor, now)
    absolute_s, idle_s, per_account = rules
    started = moment(now)
    session_id = sql.insert(
        db,
        "INSERT INTO sessions (user_id, token_hash, created_at, last_used_at, expires_at, "
        "idle_s, address, client) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        (user_id, digest, started, started, moment(now + absolute_s), idle_s, *where),
    )
    return [session_id, spent, _revoke_past(db, user_id, per_account, started)]


def _revoke_past(db: pw.Database, user_id: int, keep: int, now: str) -> list[int]:
    """Revoke the user's sessions but the `keep` most recently used: the ids revoked."""
    return [
        r[0]
        for r in sql.rows(
            db,
            "UPDATE sessions SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL "
            "AND id NOT IN (SELECT id FROM sessions WHERE user_id = ? AND revoked_at IS NULL "
            "ORDER BY COALESCE(last_used_at, created_at) DESC, id DESC LIMIT ?) RETURNING id",
            (now, user_id, user_id, keep),
        )
    ]


@write_job
def prune_sessions(db: pw.Database, before: float) -> int:
    """Delete the sessions that ended before `before` (seconds): revoked then, or past their
    absolute lifetime then. Their rows serve nobody after (neither listed nor resumable),
    and every sign-in adds one. Returns how many."""
    cutoff = moment(before)
    return int(
        sql.execute(
            db,
            "DELETE FROM sessions WHERE (revoked_at IS NOT NULL AND revoked_at < ?) "
            "OR expires_at < ?",
            (cutoff, cutoff),
        ).rowcount
    )


@write_job
def resume_session(db: pw.Database, digest: str, now: float, where: list[str]) -> list[Any] | None:
    """[session id, user map] of the live session with this token hash, marked used from
    `where` (address, client); None if there is none."""
    columns = ", ".join(f"u.{c.strip()}" for c in USER_COLUMNS.split(","))
    row = sql.one(
        db,
        f"SELECT {STATE_COLUMNS}, {columns} FROM sessions s JOIN users u ON u.id = s.user_id "
        "WHERE s.token_hash = ?",
        (digest,),
    )
    if row is None or ended_reason(row, datetime.fromtimestamp(now, UTC)) is not None:
        return None
    sql.execute(
        db,
        "UPDATE sessions SET last_used_at = ?, address = ?, client = ? WHERE id = ?",
        (moment(now), *where, row[0]),
    )
    return [row[0], user(row[6:])]


@write_job
def revoke_sessions(
    db: pw.Database, user_id: int, only: int | None, keep: int | None, now: float
) -> list[int]:
    """Revoke the user's live session `only`, or all of them but `keep`: the ids revoked."""
    statement = "UPDATE sessions SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL"
    params: list[Any] = [moment(now), user_id]
    if only is not None:
        statement += " AND id = ?"
        params.append(only)
    if keep is not None:
        statement += " AND id <> ?"
        params.append(keep)
    return [r[0] for r in sql.rows(db, statement + " RETURNING id", params)]
