"""The audit log: one row per privileged op, written in the op's own transaction.

A write job calls `audit(...)` beside its other statements, so the entry commits with the
change it records, or rolls back with it. PROTOCOL.md section 11.8 says what a client sees of
an entry; `db.audit_entry` what an entry holds (and that it holds no secret).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import peewee as pw

from db.audit_entry import details_json
from server import sql


def audit(
    db: pw.Database,
    user_id: int | None,
    action: str,
    target: str | None,
    details: Mapping[str, Any],
    now: str,
) -> None:
    """Add an entry, in the caller's transaction: `user_id` did `action` (the op's name) to
    `target` (`target_of(kind, id)`); `details` is a map that JSON carries; `now` the job's
    `sql.now()`."""
    sql.execute(
        db,
        "INSERT INTO audit_log (user_id, action, target, details, created_at) "
        "VALUES (?, ?, ?, ?, ?)",
        (user_id, action, target, details_json(details), now),
    )
