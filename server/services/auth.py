"""Accounts and sessions: register, sign in, resume, sign out, two-factor codes.

Password hashing is slow on purpose, so it runs on a reader thread, never on the writer
(where it would hold up every commit) or the reactor.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import Any

import peewee as pw
import pyotp
from twisted.internet.defer import inlineCallbacks

from db.models import utcnow
from db.passwords import hash_password, verify_password
from protocol.errors import BadRequest, ErrorCode, WarungError
from server import sql
from server.dbexec import DatabaseExecutor
from server.dispatch import Call, Identity
from server.factory import WarungFactory
from server.limits import AddressLimiter
from server.wire import USER_COLUMNS, user
from server.write_jobs import write_job

TOKEN_LIFETIME = timedelta(days=30)
WRONG = "wrong username or password"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def unauthenticated(message: str, **details: Any) -> WarungError:
    return WarungError(message, details, code=ErrorCode.UNAUTHENTICATED)


class AuthService:
    def __init__(self, dbx: DatabaseExecutor, factory: WarungFactory) -> None:
        self.dbx = dbx
        self.factory = factory
        per_min = factory.limits.failed_logins_per_address_per_min
        self.failures = AddressLimiter(per_min / 60.0, per_min)

    @inlineCallbacks
    def register(self, call: Call):
        username, password = call.args["username"], call.args["password"]
        password_hash = yield self.dbx.read(lambda db: hash_password(password))
        created = yield self.dbx.write(insert_user, username, password_hash)
        return {"user": created}

    @inlineCallbacks
    def login(self, call: Call):
        now = self.factory.clock.seconds()
        wait = self.failures.wait(call.peer.address, now)
        if wait:
            raise WarungError(
                "too many failed sign-ins from this address: wait and try again",
                {"reason": "address", "retry_after_ms": int(wait * 1000) + 1},
                code=ErrorCode.RATE_LIMITED,
            )
        args = call.args
        try:
            row = yield self.dbx.read(
                lambda db: _check_password(db, args["username"].lower(), args["password"])
            )
            _check_account(row, args.get("totp"))
        except WarungError:
            self.failures.take(call.peer.address, self.factory.clock.seconds())
            raise
        token = secrets.token_urlsafe(32)
        session_id = yield self.dbx.write(create_session, row[0], token)
        call.peer.sign_in(Identity(row[0], row[1], row[2], session_id))
        return {"user": user(row[:6]), "token": token}

    @inlineCallbacks
    def resume(self, call: Call):
        digest = token_hash(call.args["token"])
        row = yield self.dbx.read(lambda db: _session_user(db, digest))
        if row is None:
            raise unauthenticated("the session token is not valid: sign in again")
        session_id, user_row = row[0], row[1:]
        call.peer.sign_in(Identity(user_row[0], user_row[1], user_row[2], session_id))
        return {"user": user(user_row)}

    @inlineCallbacks
    def logout(self, call: Call):
        session_id = call.identity.session_id
        yield self.dbx.write(revoke_session, session_id)
        self.factory.sign_out_session(session_id)
        return {}

    @inlineCallbacks
    def totp_enroll(self, call: Call):
        me = call.identity
        secret = pyotp.random_base32()
        yield self.dbx.write(enroll_totp, me.user_id, secret)
        uri = pyotp.TOTP(secret).provisioning_uri(name=me.username, issuer_name="warung")
        return {"secret": secret, "uri": uri}

    @inlineCallbacks
    def totp_confirm(self, call: Call):
        yield self.dbx.write(confirm_totp, call.identity.user_id, call.args["code"])
        return {}


@write_job
def enroll_totp(db: pw.Database, user_id: int, secret: str) -> None:
    cursor = sql.execute(
        db, "UPDATE users SET totp_secret = ? WHERE id = ? AND NOT totp_enabled", (secret, user_id)
    )
    if cursor.rowcount != 1:
        raise WarungError(
            "two-factor sign-in is already on",
            {"reason": "totp_enabled"},
            code=ErrorCode.INVALID_STATE,
        )


@write_job
def confirm_totp(db: pw.Database, user_id: int, code: str) -> None:
    (secret,) = sql.one(db, "SELECT totp_secret FROM users WHERE id = ?", (user_id,))
    if secret is None:
        raise WarungError(
            "call auth.totp.enroll first", {"reason": "not_enrolled"}, code=ErrorCode.INVALID_STATE
        )
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
            user_id = sql.insert(
                db,
                "INSERT INTO users (username, password_hash, role, totp_enabled, disabled, "
                "failed_logins, created_at) VALUES (?, ?, 'customer', ?, ?, 0, ?) RETURNING id",
                (username, password_hash, False, False, utcnow()),
            )
    except pw.IntegrityError:
        raise WarungError(
            f"the username '{username}' is taken: choose another",
            {"field": "username"},
            code=ErrorCode.CONFLICT,
        ) from None
    return user(sql.one(db, f"SELECT {USER_COLUMNS} FROM users WHERE id = ?", (user_id,)))


def _check_password(db: pw.Database, username: str, password: str) -> tuple[Any, ...]:
    row = sql.one(
        db,
        f"SELECT {USER_COLUMNS}, password_hash, totp_secret FROM users WHERE username = ?",
        (username,),
    )
    if row is None:
        verify_password(_DUMMY_HASH, password)  # same time as a real check: leak nothing
        raise unauthenticated(WRONG)
    if not verify_password(row[6], password):
        raise unauthenticated(WRONG)
    return row


def _check_account(row: tuple[Any, ...], code: str | None) -> None:
    if row[3]:
        raise unauthenticated("account disabled: ask the shop")
    if row[4] and (code is None or not pyotp.TOTP(row[7]).verify(code, valid_window=1)):
        raise unauthenticated("a current two-factor code is needed", totp_required=True)


@write_job
def create_session(db: pw.Database, user_id: int, token: str) -> int:
    now = utcnow()
    return sql.insert(
        db,
        "INSERT INTO sessions (user_id, token_hash, created_at, expires_at, last_seen_at) "
        "VALUES (?, ?, ?, ?, ?) RETURNING id",
        (user_id, token_hash(token), now, now + TOKEN_LIFETIME, now),
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
