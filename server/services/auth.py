"""Accounts: register, sign in, resume, sign out; the account's sessions, two-factor codes
and password live in `account_sessions`, `totp` and `password`.

Password hashing is slow on purpose, so it runs on the hashing pool (`server.hashing`),
never on the reader threads (where every read would wait behind it), the writer (where it
would hold up every commit) or the reactor. Sign-ins are admitted by the throttles of
`server.sign_in_throttle` and sign-ups by a per-address limit, each checked and charged
before any hash.
"""

from __future__ import annotations

import secrets
from typing import Any, NoReturn

import peewee as pw

from db.models import utcnow
from db.passwords import hash_password, verify_password
from protocol.errors import BadRequest, Conflict, RateLimited, Unauthenticated, WarungError
from protocol.rules import password_problem
from server import sql
from server.clock import Clock
from server.dbexec import Executor
from server.dispatch import Call, Identity
from server.hashing import Hashing
from server.limits import AddressLimiter, Limits
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
from server.sign_in_throttle import Attempt, SignInThrottle, rate_limited
from server.wire import USER_COLUMNS, user
from server.write_jobs import write_job

WRONG = "wrong username or password"
__all__ = ["AuthService", "Sessions", "token_hash"]


class AuthService:
    def __init__(
        self,
        dbx: Executor,
        clock: Clock,
        sessions: Sessions,
        limits: Limits,
        hashing: Hashing,
        security: SecurityLog | None = None,
        lifetimes: SessionLifetimes | None = None,
    ) -> None:
        self.dbx = dbx
        self.clock = clock
        self.security = SecurityLog(clock) if security is None else security
        self.sessions = sessions
        self.hashing = hashing
        self.throttle = SignInThrottle(limits, clock)
        per_hour = limits.registrations_per_address_per_hour
        self.registrations = AddressLimiter(per_hour / 3600.0, per_hour)
        self.accounts = AccountSessions(
            dbx, clock, sessions, self.security, lifetimes or SessionLifetimes()
        )
        reauth = Reauth(hashing, dbx, clock, self.security)
        self.totp = TotpService(dbx, clock, reauth, self.security)
        self.password = PasswordService(dbx, hashing, reauth, self.accounts, self.security)

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
        row, token, session_id = await self._check(attempt, call, username)
        call.peer.sign_in(Identity(row[0], row[1], row[2], session_id))
        self.security.record("auth.login.ok", address, row[0], username)
        return {"user": user(row[:6]), "token": token}

    async def _check(
        self, attempt: Attempt, call: Call, username: str
    ) -> tuple[tuple[Any, ...], str, int]:
        """The user's row and a new session's token and id if the password (and the second
        factor, which the session's write spends) are right, reporting to `attempt` how the
        check ended: a failure, a success, or nothing checked (something unavailable). A
        failure is recorded naming the account tried, when there is one (`account_id`)."""
        row = None
        try:
            row = await self.dbx.read(lambda db: _user_row(db, username))
            stored = _DUMMY_HASH if row is None else row[6]
            right = await self.hashing.run(verify_password, stored, call.args["password"])
            if row is None or not right:
                raise Unauthenticated(WRONG)
            _check_account(row)
            factor = second_factor(row[0], row[7], row[4], call.args, self.clock.seconds())
            token, session_id = await self.accounts.start(call, row, factor)
        except Unauthenticated as failed:
            attempt.failed()
            self.security.record(
                "auth.login.failed",
                call.peer.address,
                username=username,
                reason=_reason(failed),
                account_id=None if row is None else row[0],
            )
            raise
        except BaseException:
            attempt.released()
            raise
        attempt.succeeded()
        return row, token, session_id

    def _throttled(self, call: Call, username: str, refused: RateLimited) -> NoReturn:
        self.security.record(
            "auth.throttled", call.peer.address, username=username, op=call.op, **refused.details
        )
        raise refused

    async def resume(self, call: Call) -> dict[str, Any]:
        session_id, found = await self.accounts.resume(call)
        call.peer.sign_in(Identity(found["id"], found["username"], found["role"], session_id))
        return {"user": found}

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


def _check_account(row: tuple[Any, ...]) -> None:
    if row[3]:
        raise Unauthenticated("account disabled: ask the shop")


_DUMMY_HASH = hash_password(secrets.token_urlsafe(16))
