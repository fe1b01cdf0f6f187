"""The people write jobs on SQLite and PostgreSQL: the shop's last enabled admin is kept
even when the caller is no longer an enabled admin itself (a race the wire cannot show
one call at a time), and a refused change leaves the account and the audit log as they were."""

from __future__ import annotations

import peewee as pw
import pytest

from db.models import User
from protocol.errors import InvalidState
from server.services.people import set_disabled, set_role


def account(name: str, role: str, disabled: bool = False) -> int:
    return User.create(username=name, password_hash="x", role=role, disabled=disabled).id


def entries(db: pw.Database) -> int:
    return db.execute_sql("SELECT count(*) FROM audit_log").fetchone()[0]


@pytest.mark.parametrize("change", ["disable", "demote"])
def test_the_last_enabled_admin_cannot_be_disabled_or_demoted(database, change):
    only = account("satu-satunya", "admin")
    account("sudah-mati", "admin", disabled=True)
    stale = account("bekas-admin", "clerk")  # an admin demoted while its request ran

    with pytest.raises(InvalidState) as refused, database.atomic():
        if change == "disable":
            set_disabled(database, stale, only, True)
        else:
            set_role(database, stale, only, "clerk")

    assert refused.value.details == {"reason": "last_admin", "user_id": only}
    kept = User.get_by_id(only)
    assert (kept.role, kept.disabled) == ("admin", False)
    assert entries(database) == 0


def test_an_admin_may_go_while_another_enabled_admin_stays(database):
    first, second = account("pertama", "admin"), account("kedua", "admin")

    with database.atomic():
        set_disabled(database, second, first, True)
        set_role(database, first, second, "admin")

    assert User.get_by_id(first).disabled and entries(database) == 2
