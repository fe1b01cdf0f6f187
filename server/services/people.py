"""The shop's people: admin.user.list, .create, .set_role and .disable (PROTOCOL.md 12.8).

Disabling an account or changing its role ends its sessions, and its connections are
signed out at once on every server: here through the session registry, on the other
servers of a PostgreSQL shop through a notification sent in the same transaction
(`server.pg_events.announce_sign_out`), not at their next session check.

A shop always keeps one enabled admin. The write that would leave none is refused, and
it first locks every enabled admin row (`FOR UPDATE` on PostgreSQL; on SQLite the single
writer runs one job at a time), so two admins disabling or demoting each other at once
cannot both succeed: the second one waits, then sees the first one's change.
"""

from __future__ import annotations

from typing import Any, Protocol

import peewee as pw

from db.audit_entry import target_of
from db.models import utcnow
from db.passwords import hash_password
from protocol.errors import BadRequest, Conflict, InvalidState, NotFound
from protocol.ops import Op
from protocol.rules import password_problem
from server import sql
from server.audit import audit
from server.cursors import Cursors
from server.dbexec import Executor, is_postgres
from server.dispatch import Call
from server.hashing import Hashing
from server.pg_events import announce_sign_out
from server.wire import USER_COLUMNS, user, utc
from server.write_jobs import write_job

LIST_SCOPE = "admin.user.list"


class SignsOutUsers(Protocol):
    def sign_out_user(self, user_id: int, reason: str) -> None: ...


class PeopleService:
    def __init__(
        self, dbx: Executor, hashing: Hashing, sessions: SignsOutUsers, cursors: Cursors
    ) -> None:
        self.dbx = dbx
        self.hashing = hashing
        self.sessions = sessions
        self.cursors = cursors

    async def list(self, call: Call) -> dict[str, Any]:
        """A page of accounts by username, each with its last sign-in."""
        after = None
        if "cursor" in call.args:
            (after,) = self.cursors.decode(call.args["cursor"], LIST_SCOPE, (str,))
        limit = call.args["limit"]
        found = await self.dbx.read(lambda db: _people(db, after, limit + 1))
        items = found[:limit]
        more = len(found) > limit
        cursor = self.cursors.encode(LIST_SCOPE, items[-1]["username"]) if more else None
        return {"items": items, "next_cursor": cursor}

    async def create(self, call: Call) -> dict[str, Any]:
        username, password = call.args["username"], call.args["password"]
        problem = password_problem(password, username)
        if problem:
            rule = problem.removeprefix("password ")
            raise BadRequest(problem, {"field": "password", "rule": rule})
        password_hash = await self.hashing.run(hash_password, password)
        created = await self.dbx.write(
            create_account, call.identity.user_id, username, password_hash, call.args["role"]
        )
        return {"user": created}

    async def set_role(self, call: Call) -> dict[str, Any]:
        user_id, role = call.args["user_id"], call.args["role"]
        _not_self(call, user_id, "change your own role")
        changed, ended = await self.dbx.write(set_role, call.identity.user_id, user_id, role)
        if ended:
            self.sessions.sign_out_user(user_id, "role_changed")
        return {"user": changed}

    async def disable(self, call: Call) -> dict[str, Any]:
        user_id, disabled = call.args["user_id"], call.args["disabled"]
        if disabled:
            _not_self(call, user_id, "disable your own account")
        changed, ended = await self.dbx.write(
            set_disabled, call.identity.user_id, user_id, disabled
        )
        if ended:
            self.sessions.sign_out_user(user_id, "disabled")
        return {"user": changed}


def _not_self(call: Call, user_id: int, what: str) -> None:
    if user_id == call.identity.user_id:
        raise InvalidState(
            f"you cannot {what}: ask another admin", {"reason": "self", "user_id": user_id}
        )


def _people(db: pw.Database, after: str | None, limit: int) -> list[dict[str, Any]]:
    columns = ", ".join(f"u.{c.strip()}" for c in USER_COLUMNS.split(","))
    where, params = ("WHERE u.username > ? ", [after]) if after is not None else ("", [])
    rows = sql.rows(
        db,
        f"SELECT {columns}, (SELECT MAX(s.created_at) FROM sessions s WHERE s.user_id = u.id) "
        f"FROM users u {where}ORDER BY u.username LIMIT ?",
        (*params, limit),
    )
    return [{**user(r[:6]), "last_sign_in_at": utc(r[6])} for r in rows]


@write_job
def create_account(
    db: pw.Database, admin_id: int, username: str, password_hash: str, role: str
) -> dict[str, Any]:
    """A new account with any role, as the user map, and its audit entry."""
    now = sql.now()
    try:
        with db.atomic():
            row = sql.one(
                db,
                "INSERT INTO users (username, password_hash, role, totp_enabled, disabled, "
                f"created_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING {USER_COLUMNS}",
                (username, password_hash, role, False, False, utcnow()),
            )
    except pw.IntegrityError:
        raise Conflict(
            f"the username '{username}' is taken: choose another", {"field": "username"}
        ) from None
    assert row is not None  # an INSERT ... RETURNING gives its row
    created = user(row)
    details = {"username": username, "role": role}
    audit(db, admin_id, Op.ADMIN_USER_CREATE, target_of("user", created["id"]), details, now)
    return created


@write_job
def set_role(db: pw.Database, admin_id: int, user_id: int, role: str) -> list[Any]:
    """[the user map, whether its sessions ended]: a new role ends them (and tells every
    server), the same role changes nothing."""
    now = sql.now()
    before = _target(db, user_id)
    if before["role"] == "admin" and role != "admin":
        _keep_an_admin(db, before, "demote")
    ended = before["role"] != role
    if ended:
        sql.execute(db, "UPDATE users SET role = ? WHERE id = ?", (role, user_id))
        _end_sessions(db, user_id, now, "role_changed")
    details = {"username": before["username"], "from": before["role"], "to": role}
    audit(db, admin_id, Op.ADMIN_USER_SET_ROLE, target_of("user", user_id), details, now)
    return [{**before, "role": role}, ended]


@write_job
def set_disabled(db: pw.Database, admin_id: int, user_id: int, disabled: bool) -> list[Any]:
    """[the user map, whether its sessions ended]: disabling ends them (and tells every
    server); enabling lets the account sign in again, its ended sessions stay ended."""
    now = sql.now()
    before = _target(db, user_id)
    if disabled and before["role"] == "admin":
        _keep_an_admin(db, before, "disable")
    sql.execute(db, "UPDATE users SET disabled = ? WHERE id = ?", (disabled, user_id))
    if disabled:
        _end_sessions(db, user_id, now, "disabled")
    details = {"username": before["username"], "disabled": disabled}
    audit(db, admin_id, Op.ADMIN_USER_DISABLE, target_of("user", user_id), details, now)
    return [{**before, "disabled": disabled}, disabled]


def _target(db: pw.Database, user_id: int) -> dict[str, Any]:
    row = sql.one(db, f"SELECT {USER_COLUMNS} FROM users WHERE id = ?", (user_id,))
    if row is None:
        raise NotFound(
            f"there is no user {user_id}: admin.user.list shows the shop's people",
            {"kind": "user", "id": user_id},
        )
    return user(row)


def _keep_an_admin(db: pw.Database, target: dict[str, Any], what: str) -> None:
    """Refuse to take away the last enabled admin, after locking every enabled admin row."""
    lock = " FOR UPDATE" if is_postgres(db) else ""
    admins = sql.rows(
        db, f"SELECT id FROM users WHERE role = 'admin' AND disabled = ?{lock}", (False,)
    )
    if [r[0] for r in admins] == [target["id"]]:
        raise InvalidState(
            f"cannot {what} '{target['username']}', the shop's last enabled admin: "
            "make another account admin first",
            {"reason": "last_admin", "user_id": target["id"]},
        )


def _end_sessions(db: pw.Database, user_id: int, now: str, reason: str) -> None:
    """Revoke the user's live sessions and tell every server to sign its connections out."""
    sql.execute(
        db,
        "UPDATE sessions SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL",
        (now, user_id),
    )
    announce_sign_out(db, user_id, reason)
