"""The audit log: one row per privileged op, written in the op's own transaction.

A write job calls `audit(...)` beside its other statements, so the entry commits with the
change it records, or rolls back with it. PROTOCOL.md section 11.8 says what a client sees of
an entry. Secrets never reach the log: `details` holding a password, token or TOTP secret
under any key, at any depth, is a bug in the caller and raises `ValueError`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import peewee as pw

from server import sql

SECRET_KEYS = frozenset(
    {"password", "password_hash", "token", "token_hash", "totp", "totp_secret", "secret"}
)


def target_of(kind: str, id_: int) -> str:
    """What an entry names: `product:221`, `order:17`, `register:3`."""
    return f"{kind}:{id_}"


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
    _refuse_secrets(details)
    sql.execute(
        db,
        "INSERT INTO audit_log (user_id, action, target, details, created_at) "
        "VALUES (?, ?, ?, ?, ?)",
        (user_id, action, target, json.dumps(details, separators=(",", ":")), now),
    )


def _refuse_secrets(value: Any) -> None:
    if isinstance(value, Mapping):
        for key, inner in value.items():
            if key in SECRET_KEYS:
                raise ValueError(f"the audit log never keeps a secret ({key!r})")
            _refuse_secrets(inner)
    elif isinstance(value, list | tuple):
        for inner in value:
            _refuse_secrets(inner)
