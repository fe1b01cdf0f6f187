import json
import re
from pathlib import Path

import pytest

from db.audit_entry import target_of
from db.models import AuditLog, User
from db.transactions import write_transaction
from server import sql
from server.audit import audit


def test_an_entry_is_written_in_the_callers_transaction(database):
    clerk = User.create(username="kasir", password_hash="x", role="clerk")
    with write_transaction(database):
        audit(
            database,
            clerk.id,
            "clerk.adjust",
            target_of("product", 221),
            {"delta": -2, "reason": "rusak"},
            sql.now(),
        )
    with pytest.raises(RuntimeError), write_transaction(database):
        audit(database, clerk.id, "clerk.restock", target_of("product", 1), {}, sql.now())
        raise RuntimeError("the op fails after auditing")
    (entry,) = AuditLog.select()
    assert (entry.user_id, entry.action, entry.target) == (clerk.id, "clerk.adjust", "product:221")
    assert json.loads(entry.details) == {"delta": -2, "reason": "rusak"}


@pytest.mark.parametrize(
    "details",
    [
        {"password": "rahasia123"},
        {"payment": {"method": "card", "token": "tok_1"}},
        {"changes": [{"totp_secret": "JBSWY3DP"}]},
    ],
)
def test_a_secret_is_never_logged(database, details):
    with pytest.raises(ValueError, match="never keeps a secret"):
        audit(database, None, "admin.user.create", target_of("user", 9), details, sql.now())
    assert AuditLog.select().count() == 0


def test_no_code_changes_or_deletes_an_entry():
    """The log is append-only by construction: no statement of the code base updates,
    deletes from or truncates `audit_log`, and no code calls peewee's update or delete on
    `AuditLog` (PROTOCOL.md section 11.8)."""
    root = Path(__file__).resolve().parents[2]
    changes = re.compile(
        r"(UPDATE|DELETE\s+FROM|TRUNCATE(\s+TABLE)?|DROP\s+TABLE)\s+audit_log"
        r"|AuditLog\s*\.\s*(update|delete|delete_by_id|replace|insert_many)\b",
        re.IGNORECASE,
    )
    found = [
        f"{path.relative_to(root)}: {match.group(0)}"
        for package in ("server", "db", "protocol", "client_tui", "client_shell")
        for path in (root / package).rglob("*.py")
        for match in changes.finditer(path.read_text())
    ]
    assert found == []
