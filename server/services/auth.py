"""Accounts and sessions: register, sign in, resume, sign out, two-factor codes.

Password hashing is slow on purpose, so it runs on the hashing pool (`server.hashing`),
never on the reader threads (where every read would wait behind it), the writer (where it
would hold up every commit) or the reactor. Sign-ins are admitted by the throttles of
`server.sign_in_throttle` and sign-ups by a per-address limit, each checked and charged
before any hash.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import Any, NoReturn, Protocol

import peewee as pw
import pyotp

from db.models import utcnow
from db.passwords import hash_password, verify_password
from protocol.errors import (
    BadRequest,
    Conflict,
    InvalidState,
    RateLimited,
    Unauthenticated,
    WarungError,
)
from protocol.rules import password_problem
from server import sql
from server.clock import Clock
from server.dbexec import DatabaseExecutor
from server.dispatch import Call, Identity
from server.hashing import Hashing
from server.limits import AddressLimiter, Limits
from server.security_log import SecurityLog
from server.sign_in_throttle import Attempt, SignInThrottle, rate_limited
from server.wire import USER_COLUMNS, user
from server.write_jobs import write_job

TOKEN_LIFETIME = timedelta(days=30)
WRONG = "wrong username or password"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Sessions(Protocol):
    """What signing out needs of the connections: every one on a session signed out."""

    def sign_out_session(self, session_id: int) -> None: ...


class AuthService:
    def __init__(
        self,
        dbx: DatabaseExecutor,
        clock: Clock,
        sessions: Sessions,
        limits: Limits,
        hashing: Hashing,
        security: SecurityLog | None = None,
    ) -> None:
        self.dbx = dbx
        self.clock = clock
        self.security = SecurityLog(clock) if security is None else security
        self.sessions = sessions
        self.hashing = hashing
        self.throttle = SignInThrottle(limits, clock)
        per_hour = limits.registrations_per_address_per_hour
        self.registrations = AddressLimiter(per_hour / 3600.0, per_hour)

    async def register(self, call: Call) -> dict[str, Any]:
        address = call.peer.address
        username, password = call.args["username"], call.args["password"]
        problem = password_problem(password, username)
        if problem:
            rule = problem.removeprefix("password ")
            raise BadRequest(problem, {"field": "password", "rule": rule})
        wait = self.registrations.take(address, self.clock.seconds())
        if wait:
            self._throttled(call, username, rate_limited("address", wait, "new accounts"))
        try:
            password_hash = await self.hashing.run(hash_password, password)
        except WarungError:
            self.registrations.give_back(address)
            raise
        created = await self.dbx.write(insert_user, username, password_hash)
        self.security.record("auth.register", address, created["id"], username)
        return {"user": created}

    async def login(self, call: Call) -> dict[str, Any]:
        address, args = call.peer.address, call.args
        username = args["username"].lower()
        try:
            attempt = self.throttle.begin(address, username)
        except RateLimited as refused:
            self._throttled(call, username, refused)
        try:
            row = await self._check(attempt, username, args["password"], args.get("totp"))
        except Unauthenticated as failed:
            self.security.record(
                "auth.login.failed", address, username=username, reason=_reason(failed)
            )
            raise
        token = secrets.token_urlsafe(32)
        session_id = await self.dbx.write(create_session, row[0], token)
        call.peer.sign_in(Identity(row[0], row[1], row[2], session_id))
        self.security.record("auth.login.ok", address, row[0], username)
        return {"user": user(row[:6]), "token": token}

    async def _check(
        self, attempt: Attempt, username: str, password: str, code: str | None
    ) -> tuple[Any, ...]:
        """The user's row if `password` (and `code`) are right, reporting to `attempt` how
        the check ended: a failure, a success, or nothing checked (something unavailable)."""
        try:
            row = await self.dbx.read(lambda db: _user_row(db, username))
            stored = _DUMMY_HASH if row is None else row[6]
            right = await self.hashing.run(verify_password, stored, password)
            if row is None or not right:
                raise Unauthenticated(WRONG)
            _check_account(row, code)
        except Unauthenticated:
            attempt.failed()
            raise
        except BaseException:
            attempt.released()
            raise
        attempt.succeeded()
        return row

    def _throttled(self, call: Call, username: str, refused: RateLimited) -> NoReturn:
        self.security.record(
            "auth.throttled", call.peer.address, username=username, op=call.op, **refused.details
        )
        raise refused

    async def resume(self, call: Call) -> dict[str, Any]:
        digest = token_hash(call.args["token"])
        row = await self.dbx.read(lambda db: _session_user(db, digest))
        if row is None:
            raise Unauthenticated("the session token is not valid: sign in again")
        session_id, user_row = row[0], row[1:]
        call.peer.sign_in(Identity(user_row[0], user_row[1], user_row[2], session_id))
        return {"user": user(user_row)}

    async def logout(self, call: Call) -> dict[str, Any]:
        session_id = call.identity.session_id
        await self.dbx.write(revoke_session, session_id)
        self.sessions.sign_out_session(session_id)
        return {}

    async def totp_enroll(self, call: Call) -> dict[str, Any]:
        me = call.identity
        secret = pyotp.random_base32()
        await self.dbx.write(enroll_totp, me.user_id, secret)
        uri = pyotp.TOTP(secret).provisioning_uri(name=me.username, issuer_name="warung")
        return {"secret": secret, "uri": uri}

    async def totp_confirm(self, call: Call) -> dict[str, Any]:
        await self.dbx.write(confirm_totp, call.identity.user_id, call.args["code"])
        return {}


@write_job
def enroll_totp(db: pw.Database, user_id: int, secret: str) -> None:
    cursor = sql.execute(
        db, "UPDATE users SET totp_secret = ? WHERE id = ? AND NOT totp_enabled", (secret, user_id)
    )
    if cursor.rowcount != 1:
        raise InvalidState("two-factor sign-in is already on", {"reason": "totp_enabled"})


@write_job
def confirm_totp(db: pw.Database, user_id: int, code: str) -> None:
    found = sql.one(db, "SELECT totp_secret FROM users WHERE id = ?", (user_id,))
    secret = None if found is None else found[0]
    if secret is None:
        raise InvalidState("call auth.totp.enroll first", {"reason": "not_enrolled"})
    if not pyotp.TOTP(secret).verify(code, valid_window=1):
        raise BadRequest("wrong code", {"field": "code", "rule": "wrong code"})
    sql.execute(db, "UPDATE users SET totp_enabled = ? WHERE id = ?", (True, user_id))


@write_job
def revoke_session(db: pw.Database, session_id: int) -> None:
    sql.execute(db, "UPDATE sessions SET revoked_at = ? WHERE id = ?", (utcnow(), session_id))


@write_job
def insert_user(db: pw.Database, username: str, password_hash: str) -> dict[str, Any]:
    """A new customer, as the user map."""
    try:
        with db.atomic():
            cursor = sql.execute(
                db,
                "INSERT INTO users (username, password_hash, role, totp_enabled, disabled, "
                "created_at) VALUES (?, ?, 'customer', ?, ?, ?) "
                f"RETURNING {USER_COLUMNS}",
                (username, password_hash, False, False, utcnow()),
            )
            created = cursor.fetchone()  # an INSERT ... RETURNING gives its row
    except pw.IntegrityError:
        raise Conflict(
            f"the username '{username}' is taken: choose another", {"field": "username"}
        ) from None
    return user(created)


def _user_row(db: pw.Database, username: str) -> tuple[Any, ...] | None:
    """The user's columns, password hash and TOTP secret; None when there is no such user."""
    return sql.one(
        db,
        f"SELECT {USER_COLUMNS}, password_hash, totp_secret FROM users WHERE username = ?",
        (username,),
    )


def _reason(failed: Unauthenticated) -> str:
    """Why a sign-in failed, for the security log."""
    if failed.details.get("totp_required"):
        return "totp"
    return "disabled" if failed.message.startswith("account disabled") else "password"


def _check_account(row: tuple[Any, ...], code: str | None) -> None:
    if row[3]:
        raise Unauthenticated("account disabled: ask the shop")
    if row[4] and (code is None or not pyotp.TOTP(row[7]).verify(code, valid_window=1)):
        raise Unauthenticated("a current two-factor code is needed", {"totp_required": True})


@write_job
def create_session(db: pw.Database, user_id: int, token: str) -> int:
    now = utcnow()
    return sql.insert(
        db,
        "INSERT INTO sessions (user_id, token_hash, created_at, expires_at) "
        "VALUES (?, ?, ?, ?) RETURNING id",
        (user_id, token_hash(token), now, now + TOKEN_LIFETIME),
    )


def _session_user(db: pw.Database, digest: str) -> tuple[Any, ...] | None:
    columns = ", ".join(f"u.{c.strip()}" for c in USER_COLUMNS.split(","))
    return sql.one(
        db,
        f"SELECT s.id, {columns} FROM sessions s JOIN users u ON u.id = s.user_id "
        "WHERE s.token_hash = ? AND s.revoked_at IS NULL AND s.expires_at > ? "
        "AND NOT u.disabled",
        (digest, utcnow()),
    )


_DUMMY_HASH = hash_password(secrets.token_urlsafe(16))
