"""`admin.audit.list`: pages of the audit log, newest first, filtered (PROTOCOL.md 12.8).

The log is read by id, descending, from the primary key; each filter narrows it: an action
prefix, a user (by id or by username), a target, a range of UTC days. Each entry names its
user too (a join on the users' primary key), so a person reads names, not ids. A page's
cursor holds the id of its last entry, signed for these filters only (`server.cursors`).
"""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta
from typing import Any

import peewee as pw

from server import sql, wire
from server.cursors import Cursors
from server.dbexec import Executor
from server.dispatch import Call
from server.services.sales_report import check_days_in_order

FILTERS = ("action", "user_id", "username", "target", "from", "to")


class AuditListService:
    def __init__(self, dbx: Executor, cursors: Cursors) -> None:
        self.dbx = dbx
        self.cursors = cursors

    async def list(self, call: Call) -> dict[str, Any]:
        args = call.args
        check_days_in_order(args.get("from"), args.get("to"))
        scope = scope_of(args)
        before = self.cursors.decode(args["cursor"], scope, (int,))[0] if "cursor" in args else None
        limit = args["limit"]
        found = await self.dbx.read(lambda db: audit_page(db, args, before, limit + 1))
        items = found[:limit]
        more = len(found) > limit
        return {
            "items": items,
            "next_cursor": self.cursors.encode(scope, items[-1]["id"]) if more else None,
        }


def scope_of(args: dict[str, Any]) -> str:
    """The listing a cursor belongs to: these filters (JSON, so no value can pass for
    another's)."""
    return "admin.audit.list" + json.dumps([str(args.get(name)) for name in FILTERS])


def audit_page(
    db: pw.Database, args: dict[str, Any], before: int | None, limit: int
) -> list[dict[str, Any]]:
    """Up to `limit` entries, newest first, older than the entry `before` (if given),
    matching the filters in `args`."""
    where: list[str] = []
    params: list[Any] = []
    action = args.get("action")
    if action is not None:  # a prefix, compared as is: no LIKE wildcard to escape
        where.append("substr(action, 1, ?) = ?")
        params += [len(action), action]
    for condition, value in (
        ("a.user_id = ?", args.get("user_id")),
        ("a.user_id = (SELECT id FROM users WHERE username = ?)", _lower(args.get("username"))),
        ("target = ?", args.get("target")),
        ("a.created_at >= ?", _day_start(args.get("from"))),
        ("a.created_at < ?", _day_start(args.get("to"), 1)),
        ("a.id < ?", before),
    ):
        if value is not None:
            where.append(condition)
            params.append(value)
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    found = sql.rows(
        db,
        "SELECT a.id, a.created_at, a.user_id, u.username, a.action, a.target, a.details "
        f"FROM audit_log a LEFT JOIN users u ON u.id = a.user_id {clause} "
        "ORDER BY a.id DESC LIMIT ?",
        (*params, limit),
    )
    return [entry(row) for row in found]


def _lower(username: str | None) -> str | None:
    return None if username is None else username.lower()  # stored lowercase


def _day_start(day: date | None, plus_days: int = 0) -> str | None:
    """The start (UTC) of `day` + `plus_days`, as the log's timestamps are stored."""
    if day is None:
        return None
    return str(datetime.combine(day + timedelta(days=plus_days), time()))


def entry(row: tuple[Any, ...]) -> dict[str, Any]:
    """An audit entry as the wire has it (PROTOCOL.md section 11.8)."""
    id_, created_at, user_id, username, action, target, details = row
    return {
        "id": id_,
        "at": wire.utc(created_at),
        "user_id": user_id,
        "username": username,
        "action": action,
        "target": target,
        "details": json.loads(details),
    }
