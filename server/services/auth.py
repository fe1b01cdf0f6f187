"""Accounts and sessions: register, sign in, resume, sign out, two-factor codes.

Password hashing is slow on purpose, so it runs on a reader thread, never on the writer
(where it would hold up every commit) or the reactor.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import Any, Protocol

import peewee as pw
import pyotp

from db.models import utcnow
from db.passwords import hash_password, verify_password
from protocol.errors import BadRequest, Conflict, InvalidState, RateLimited, Unauthenticated
from server import sql
from server.clock import Clock
from server.dbexec import DatabaseExecutor
from server.dispatch import Call, Identity
from server.limits import AddressLimiter
from server.security_log import SecurityLog
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
        failed_logins_per_min: float,
        security: SecurityLog | None = None,
    ) -> None:
        """`failed_logins_per_min` failed sign-ins per address a minute, as a burst too."""
        self.dbx = dbx
        self.clock = clock
        self.security = SecurityLog(clock) if security is None else security
        self.sessions = sessions
        self.failures = AddressLimiter(failed_logins_per_min / 60.0, failed_logins_per_min)

    async def register(self, call: Call) -> dict[str, Any]:
        username, password = call.args["username"], call.args["password"]
        password_hash = await self.dbx.read(lambda db: hash_password(password))
        created = await self.dbx.write(insert_user, username, password_hash)
        return {"user": created}

    async def login(self, call: Call) -> dict[str, Any]:
        address, args = call.peer.address, call.args
        wait = self.failures.wait(address, self.clock.seconds())
        if wait:
            raise RateLimited(
                "too many failed sign-ins from this address: wait and try again",
                {"reason": "address", "retry_after_ms": int(wait * 1000) + 1},
            )
        try:
            row = await self.dbx.read(
                lambda db: _check_password(db, args["username"].lower(), args["password"])
            )
            _check_account(row, args.get("totp"))
        except Unauthenticated:
            self.failures.take(address, self.clock.seconds())
            raise
        token = secrets.token_urlsafe(32)
        session_id = await self.dbx.write(create_session, row[0], token)
        call.peer.sign_in(Identity(row[0], row[1], row[2], session_id))
        return {"user": user(row[:6]), "token": token}

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


def _check_password(db: pw.Database, username: str, password: str) -> tuple[Any, ...]:
    row = sql.one(
        db,
        f"SELECT {USER_COLUMNS}, password_hash, totp_secret FROM users WHERE username = ?",
        (username,),
    )
    if row is None:
        verify_password(_DUMMY_HASH, password)  # same time as a real check: leak nothing
        raise Unauthenticated(WRONG)
    if not verify_password(row[6], password):
        raise Unauthenticated(WRONG)
    return row


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
