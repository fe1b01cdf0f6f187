"""Accounts: register, sign in, resume, sign out; the account's sessions, two-factor codes
and password live in `account_sessions`, `totp` and `password`.

Password hashing is slow on purpose, so it runs on a reader thread, never on the writer
(where it would hold up every commit) or the reactor.
"""

from __future__ import annotations

import secrets
from typing import Any

import peewee as pw

from db.models import utcnow
from db.passwords import hash_password, verify_password
from protocol.errors import Conflict, RateLimited, Unauthenticated
from server import sql
from server.clock import Clock
from server.dbexec import DatabaseExecutor
from server.dispatch import Call, Identity
from server.limits import AddressLimiter
from server.security_log import SecurityLog
from server.services.account_sessions import (
    AccountSessions,
    SessionLifetimes,
    Sessions,
    token_hash,
)
from server.services.password import PasswordService
from server.services.reauth import Reauth
from server.services.totp import TotpService, second_factor
from server.wire import USER_COLUMNS, user
from server.write_jobs import write_job

WRONG = "wrong username or password"
__all__ = ["AuthService", "Sessions", "token_hash"]


class AuthService:
    def __init__(
        self,
        dbx: DatabaseExecutor,
        clock: Clock,
        sessions: Sessions,
        failed_logins_per_min: float,
        security: SecurityLog | None = None,
        lifetimes: SessionLifetimes | None = None,
    ) -> None:
        """`failed_logins_per_min` failed sign-ins per address a minute, as a burst too."""
        self.dbx = dbx
        self.clock = clock
        self.security = SecurityLog(clock) if security is None else security
        self.sessions = sessions
        self.failures = AddressLimiter(failed_logins_per_min / 60.0, failed_logins_per_min)
        self.accounts = AccountSessions(
            dbx, clock, sessions, self.security, lifetimes or SessionLifetimes()
        )
        reauth = Reauth(dbx, clock, self.security)
        self.totp = TotpService(dbx, clock, reauth, self.security)
        self.password = PasswordService(dbx, reauth, self.accounts, self.security)

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
            _check_account(row)
            factor = second_factor(row[0], row[7], row[4], args, self.clock.seconds())
            token, session_id = await self.accounts.start(call, row, factor)
        except Unauthenticated:
            self.failures.take(address, self.clock.seconds())
            raise
        call.peer.sign_in(Identity(row[0], row[1], row[2], session_id))
        return {"user": user(row[:6]), "token": token}

    async def resume(self, call: Call) -> dict[str, Any]:
        row = await self.accounts.resume(call)
        session_id, user_row = row[0], row[1:]
        call.peer.sign_in(Identity(user_row[0], user_row[1], user_row[2], session_id))
        return {"user": user(user_row)}

    async def logout(self, call: Call) -> dict[str, Any]:
        return await self.accounts.logout(call)


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


def _check_account(row: tuple[Any, ...]) -> None:
    if row[3]:
        raise Unauthenticated("account disabled: ask the shop")


_DUMMY_HASH = hash_password(secrets.token_urlsafe(16))
