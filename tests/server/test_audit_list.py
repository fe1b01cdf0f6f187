"""The audit log's pages on SQLite and PostgreSQL: each filter, the day bounds (UTC, both
days included), newest first, and the rows the feed writes in one job."""

from __future__ import annotations

from datetime import date
from typing import Any

import peewee as pw

from db.models import User
from db.transactions import write_transaction
from server.audit import audit
from server.audit_feed import Row, write_audit_rows
from server.services.audit_list import audit_page

ENTRIES = (  # user, action, target, at
    (1, "clerk.restock", "product:1", "2026-11-28 23:59:59.999999"),
    (2, "clerk.adjust", "product:1", "2026-11-29 00:00:00"),
    (1, "clerk.sale", "order:5", "2026-11-29 12:00:00"),
    (None, "auth.login.failed", None, "2026-11-29 23:59:59.999999"),
    (3, "clerk.register.close", "register:2", "2026-11-30 00:00:00"),
)


def fill(db: pw.Database) -> None:
    with write_transaction(db):
        for user_id, action, target, at in ENTRIES:
            audit(db, user_id, action, target, {"n": 1}, at)


def actions(db: pw.Database, **filters: Any) -> list[str]:
    return [entry["action"] for entry in audit_page(db, filters, None, 10)]


def test_each_filter_and_the_day_bounds(database):
    fill(database)
    assert actions(database) == [
        "clerk.register.close",
        "auth.login.failed",
        "clerk.sale",
        "clerk.adjust",
        "clerk.restock",
    ]
    assert actions(database, action="clerk.re") == ["clerk.register.close", "clerk.restock"]
    assert actions(database, action="clerk.restock.") == []
    assert actions(database, action="%") == [], "a LIKE wildcard is a plain character"
    assert actions(database, user_id=1) == ["clerk.sale", "clerk.restock"]
    assert actions(database, target="product:1") == ["clerk.adjust", "clerk.restock"]
    assert actions(database, target="product:") == [], "a target is matched whole"
    day = date(2026, 11, 29)
    assert actions(database, **{"from": day, "to": day}) == [
        "auth.login.failed",
        "clerk.sale",
        "clerk.adjust",
    ]
    assert actions(database, **{"from": date(2026, 11, 30)}) == ["clerk.register.close"]
    assert actions(database, to=date(2026, 11, 28)) == ["clerk.restock"]
    assert actions(database, user_id=1, **{"from": day}) == ["clerk.sale"]


def test_a_page_starts_after_the_entry_before(database):
    fill(database)
    first = audit_page(database, {}, None, 2)
    rest = audit_page(database, {}, first[-1]["id"], 10)
    assert [e["id"] for e in first + rest] == sorted((e["id"] for e in first + rest), reverse=True)
    assert len(first + rest) == len(ENTRIES)
    assert first[0]["details"] == {"n": 1} and first[0]["at"].tzinfo is not None


def test_the_feeds_rows_are_written_in_one_job(database):
    rows: list[Row] = [
        (None, "auth.login.failed", None, {"address": "10.0.0.1"}, "2026-11-30 10:00:00.5"),
        (7, "auth.login.ok", "user:7", {"address": "10.0.0.2"}, "2026-11-30 10:00:01"),
    ]
    with write_transaction(database):
        write_audit_rows(database, rows)
    found = audit_page(database, {}, None, 10)
    assert [(e["user_id"], e["action"], e["target"]) for e in found] == [
        (7, "auth.login.ok", "user:7"),
        (None, "auth.login.failed", None),
    ]
    assert found[1]["at"].microsecond == 500_000


def test_entries_name_their_user_and_a_username_filters(database):
    ani = User.create(username="ani", password_hash="x", role="clerk")
    budi = User.create(username="budi", password_hash="x", role="admin")
    with write_transaction(database):
        audit(database, ani.id, "clerk.restock", "product:1", {}, "2026-11-30 10:00:00")
        audit(database, budi.id, "admin.product.update", "product:1", {}, "2026-11-30 10:00:01")
        audit(database, None, "auth.login.failed", None, {}, "2026-11-30 10:00:02")
    found = audit_page(database, {}, None, 10)
    assert [(e["user_id"], e["username"]) for e in found] == [
        (None, None),
        (budi.id, "budi"),
        (ani.id, "ani"),
    ]
    assert actions(database, username="ANI") == ["clerk.restock"], "any case"
    assert actions(database, username="citra") == [], "no user has the name"
    assert actions(database, username="budi", user_id=ani.id) == [], "both filters hold"
