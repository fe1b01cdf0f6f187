"""auth.password.change: the current password, then a new one; every other session ends."""

from __future__ import annotations

from typing import Any

import peewee as pw

from db.passwords import hash_password
from protocol.errors import BadRequest
from protocol.rules import password_problem
from server import sql
from server.dbexec import Executor
from server.dispatch import Call
from server.hashing import Hashing
from server.security_log import SecurityLog
from server.services.account_sessions import AccountSessions, revoke_sessions
from server.services.reauth import Reauth
from server.write_jobs import write_job


class PasswordService:
    def __init__(
        self,
        dbx: Executor,
        hashing: Hashing,
        reauth: Reauth,
        accounts: AccountSessions,
        security: SecurityLog,
    ) -> None:
        self.dbx = dbx
        self.hashing = hashing
        self.reauth = reauth
        self.accounts = accounts
        self.security = security

    async def change(self, call: Call) -> dict[str, Any]:
        new = call.args["new_password"]
        problem = password_problem(new, call.identity.username)  # as sign-up checks it
        if problem is not None:
            rule = problem.removeprefix("password ")
            raise BadRequest(problem, {"field": "new_password", "rule": rule})
        me = await self.reauth.check(call)
        digest = await self.hashing.run(hash_password, new)
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
