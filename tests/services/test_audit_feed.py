"""The audit log fed from the security log, on a Clock: sign-in and refusal events become
audit rows in one write a second, a flood is the flood gate's few rows and one summary, and
a queue that fills counts the rest into an `audit.dropped` row."""

from __future__ import annotations

import json
from typing import Any

import peewee as pw
from twisted.internet.task import Clock

from server.audit_feed import FLUSH_S, AuditFeed
from server.security_log import SecurityLog
from tests.services.inline_db import InlineDatabase

WINDOW_S = 60.0


def setup(db: pw.Database, max_queued: int = 1000) -> tuple[SecurityLog, InlineDatabase, Clock]:
    clock = Clock()
    clock.advance(1_700_000_000)
    security = SecurityLog(clock, write=lambda line: None)
    inline = InlineDatabase(db)
    security.listeners.append(AuditFeed(inline, clock, max_queued))
    return security, inline, clock


def rows(db: pw.Database) -> list[dict[str, Any]]:
    found = db.execute_sql(
        "SELECT user_id, action, target, details FROM audit_log ORDER BY id"
    ).fetchall()
    return [
        {"user_id": u, "action": a, "target": t, "details": json.loads(d)} for u, a, t, d in found
    ]


def test_sign_ins_and_refusals_of_a_second_are_one_write(db):
    security, inline, clock = setup(db)
    security.record("auth.login.failed", "10.0.0.1", username="siti", reason="password")
    security.record("auth.login.ok", "10.0.0.2", 7, "budi")
    security.record("authz.forbidden", "10.0.0.3", 8, "ani", op="clerk.restock", role="customer")
    security.record("privileged.change", "10.0.0.2", 7, "budi", op="clerk.adjust", target=None)
    security.record("conn.refused", "10.0.0.9", reason="address_cap")
    assert rows(db) == [] and inline.writes == 0, "nothing written before the second"

    clock.advance(FLUSH_S)

    assert inline.writes == 1
    assert rows(db) == [
        {
            "user_id": None,
            "action": "auth.login.failed",
            "target": None,
            "details": {"address": "10.0.0.1", "username": "siti", "reason": "password"},
        },
        {
            "user_id": 7,
            "action": "auth.login.ok",
            "target": "user:7",
            "details": {"address": "10.0.0.2", "username": "budi"},
        },
        {
            "user_id": 8,
            "action": "authz.forbidden",
            "target": "user:8",
            "details": {
                "address": "10.0.0.3",
                "username": "ani",
                "op": "clerk.restock",
                "role": "customer",
            },
        },
    ], "privileged changes have their own entry; connection refusals are not audited"


def test_a_flood_is_the_gates_few_rows_then_one_summary(db):
    security, inline, clock = setup(db)
    for _ in range(300):
        security.record("authz.unauthenticated", "10.0.0.1", op="cart.get")
    clock.advance(FLUSH_S)
    assert [r["action"] for r in rows(db)] == ["authz.unauthenticated"] * 5
    clock.advance(WINDOW_S)
    clock.advance(FLUSH_S)

    summary = rows(db)[-1]
    assert summary["details"]["summary"] is True
    assert summary["details"]["suppressed"] == 295
    assert len(rows(db)) == 6
    assert inline.writes == 2, "a write per second that had rows, not one per event"


def test_a_full_queue_counts_what_it_cannot_hold_into_one_entry(db):
    security, _, clock = setup(db, max_queued=3)
    for n in range(10):
        security.record("auth.login.failed", f"10.0.1.{n}", username="siti", reason="password")
    clock.advance(FLUSH_S)

    found = rows(db)
    assert [r["action"] for r in found] == ["auth.login.failed"] * 3 + ["audit.dropped"]
    assert found[-1]["details"] == {"count": 7}
