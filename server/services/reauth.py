"""Re-authentication: the current password, asked again before a change to how the account
signs in (TOTP on or off, recovery codes, the password itself).

A session token alone (stolen from a device or a log) must not be enough to lock the owner
out. Every attempt is charged to the account before the password is checked, so a stolen
session cannot use these ops to guess the password faster than `REAUTH_PER_MIN` a minute.
"""

from __future__ import annotations

from datetime import UTC, datetime

import peewee as pw

from db.passwords import verify_password
from protocol.errors import BadRequest, RateLimited
from server import sql
from server.clock import Clock
from server.dbexec import Executor
from server.dispatch import Call, Identity
from server.hashing import Hashing
from server.limits import AddressLimiter
from server.security_log import SecurityLog

REAUTH_PER_MIN = 5.0
REAUTH_BURST = 10.0


def moment(seconds: float) -> str:
    """`seconds` since the epoch as a timestamp parameter (naive UTC, as columns hold)."""
    return str(datetime.fromtimestamp(seconds, UTC).replace(tzinfo=None))


class Reauth:
    def __init__(
        self, hashing: Hashing, dbx: Executor, clock: Clock, security: SecurityLog
    ) -> None:
        self.hashing = hashing
        self.dbx = dbx
        self.clock = clock
        self.security = security
        self.attempts = AddressLimiter(REAUTH_PER_MIN / 60.0, REAUTH_BURST)

    async def check(self, call: Call) -> Identity:
        """The caller, once `call.args["password"]` is its account's password; else
        `rate_limited` (too many attempts) or `bad_request` on the field `password`."""
        me, address = call.identity, call.peer.address
        wait = self.attempts.take(f"user {me.user_id}", self.clock.seconds())
        if wait:
            self.security.record("auth.reauth.throttled", address, me.user_id, me.username)
            raise RateLimited(
                "too many password checks for this account: wait and try again",
                {"reason": "account", "retry_after_ms": int(wait * 1000) + 1},
            )
        stored = await self.dbx.read(lambda db: password_hash_of(db, me.user_id))
        right = await self.hashing.run(verify_password, stored, call.args["password"])
        if not right:
            self.security.record("auth.reauth.failed", address, me.user_id, me.username)
            raise BadRequest(
                "wrong password: give this account's current password",
                {"field": "password", "rule": "wrong password"},
            )
        return me


def password_hash_of(db: pw.Database, user_id: int) -> str:
    found = sql.one(db, "SELECT password_hash FROM users WHERE id = ?", (user_id,))
    assert found is not None, "a signed-in user's row is never deleted"
    return str(found[0])
