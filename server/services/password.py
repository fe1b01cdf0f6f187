"""auth.password.change: the current password, then a new one; every other session ends."""

from __future__ import annotations

from typing import Any

import peewee as pw

from db.passwords import hash_password
from protocol.errors import BadRequest
from protocol.rules import password_problem
from server import sql
from server.dbexec import DatabaseExecutor
from server.dispatch import Call
from server.security_log import SecurityLog
from server.services.account_sessions import AccountSessions, revoke_sessions
from server.services.reauth import Reauth
from server.write_jobs import write_job


def new_password_problem(password: str, username: str) -> str | None:
    """Why a new password for `username` is refused, or None: the rules of PROTOCOL.md 10.3.

    The common-password check of issue 14 (item 12) extends `protocol.rules.password_problem`
    on the throttle branch, as `password_problem(password, username)`; once merged, pass
    `username` on here and the change refuses the 3,000 common passwords as sign-up does.
    """
    return password_problem(password)


class PasswordService:
    def __init__(
        self,
        dbx: DatabaseExecutor,
        reauth: Reauth,
        accounts: AccountSessions,
        security: SecurityLog,
    ) -> None:
        self.dbx = dbx
        self.reauth = reauth
        self.accounts = accounts
        self.security = security

    async def change(self, call: Call) -> dict[str, Any]:
        new = call.args["new_password"]
        problem = new_password_problem(new, call.identity.username)
        if problem is not None:
            raise BadRequest(problem, {"field": "new_password", "rule": problem})
        me = await self.reauth.check(call)
        digest = await self.dbx.read(lambda db: hash_password(new))
        now = self.accounts.clock.seconds()
        ended = await self.dbx.write(set_password, me.user_id, digest, me.session_id, now)
        self.accounts.signed_out(ended, "password_changed")
        self.security.record(
            "auth.password.changed", call.peer.address, me.user_id, me.username, sessions=len(ended)
        )
        return {}


@write_job
def set_password(
    db: pw.Database, user_id: int, password_hash: str, keep: int, now: float
) -> list[int]:
    """The new password, and every session but `keep` revoked in the same transaction."""
    sql.execute(db, "UPDATE users SET password_hash = ? WHERE id = ?", (password_hash, user_id))
    return revoke_sessions(db, user_id, None, keep, now)
