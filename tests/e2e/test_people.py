"""The shop's people over real servers: admin.user.list, .create, .set_role and .disable,
their errors, one audit entry per op, the last enabled admin kept (also against two admins
racing on two servers over PostgreSQL), and a disabled clerk signed out on another server
within a second."""

from __future__ import annotations

import json
import time
from typing import Any

import psycopg2
import pytest

from tests.e2e.harness import ServerProcess, wait_until
from tests.e2e.raw import RawConnection, Signed, ok, refused
from tests.e2e.shopdb import init_demo, opened

PASSWORD = "password-people"


def signed_in(server: ServerProcess, username: str, password: str = PASSWORD) -> Signed:
    conn = Signed(server.port)
    conn.hello()
    answer = conn.call("auth.login", username=username, password=password)
    assert answer["ok"], answer
    conn.token = answer["result"]["token"]
    return conn


def admin(server: ServerProcess) -> Signed:
    return signed_in(server, "admin", server.passwords["admin"])


def created(conn: RawConnection, username: str, role: str) -> dict[str, Any]:
    return ok(conn, "admin.user.create", username=username, password=PASSWORD, role=role)["user"]


def audit_entries(url: str, target: str) -> list[tuple[str, dict[str, Any]]]:
    """(action, details) of every audit entry naming `target`, oldest first."""
    with opened(url) as db:
        rows = db.execute_sql(
            "SELECT action, details FROM audit_log WHERE target = %s ORDER BY id".replace(
                "%s", db.param
            ),
            (target,),
        ).fetchall()
    return [(action, json.loads(details)) for action, details in rows]


def ended(conn: RawConnection) -> dict[str, Any] | None:
    """The `session.ended` push if it has come (within a moment), else None (to poll)."""
    timeout, conn.timeout = conn.timeout, 0.02
    try:
        return conn.receive(lambda m: m.get("event") == "session.ended")["data"]
    except TimeoutError:
        return None
    finally:
        conn.timeout = timeout


def test_create_lists_the_user_with_its_role_and_one_audit_entry(servers):
    server = servers.start()
    boss = admin(server)

    made = created(boss, "kasir-baru", "clerk")

    assert (made["username"], made["role"], made["disabled"]) == ("kasir-baru", "clerk", False)
    assert audit_entries(server.db_url, f"user:{made['id']}") == [
        ("admin.user.create", {"username": "kasir-baru", "role": "clerk"})
    ]
    signed_in(server, "kasir-baru")
    listed = ok(boss, "admin.user.list", limit=100)["items"]
    mine = next(u for u in listed if u["username"] == "kasir-baru")
    assert mine["role"] == "clerk" and mine["last_sign_in_at"] is not None
    names = [u["username"] for u in listed]
    assert names == sorted(names) and {"admin", "clerk", "customer"} <= set(names)


def test_create_refuses_a_taken_name_and_a_weak_password_and_writes_no_entry(servers):
    server = servers.start()
    boss = admin(server)
    created(boss, "dua-kali", "customer")

    taken = refused(boss, "admin.user.create", username="dua-kali", password=PASSWORD, role="admin")
    weak = refused(
        boss, "admin.user.create", username="lemah-sekali", password="lemah-sekali", role="clerk"
    )

    assert (taken["code"], taken["details"]) == ("conflict", {"field": "username"})
    assert (weak["code"], weak["details"]["field"]) == ("bad_request", "password")
    with opened(server.db_url) as db:
        (entries,) = db.execute_sql(
            "SELECT count(*) FROM audit_log WHERE action = 'admin.user.create'"
        ).fetchone()
    assert entries == 1


def test_a_user_list_pages_with_a_cursor(servers):
    server = servers.start()
    boss = admin(server)
    for n in range(3):
        created(boss, f"halaman-{n}", "customer")

    seen, cursor = [], None
    while True:
        page = ok(boss, "admin.user.list", limit=2, **({"cursor": cursor} if cursor else {}))
        seen += [u["username"] for u in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert seen == sorted(seen) and len(seen) == len(set(seen)) == 6
    forged = refused(boss, "admin.user.list", cursor="AAAA")
    assert forged["details"]["field"] == "cursor"


def test_set_role_ends_the_users_sessions_and_applies_at_the_next_sign_in(servers):
    server = servers.start()
    boss = admin(server)
    made = created(boss, "naik-pangkat", "customer")
    customer = signed_in(server, "naik-pangkat")

    changed = ok(boss, "admin.user.set_role", user_id=made["id"], role="clerk")["user"]

    assert changed["role"] == "clerk"
    assert wait_until(lambda: ended(customer), timeout=1.0) == {"reason": "role_changed"}
    assert refused(customer, "cart.get")["code"] == "unauthenticated"
    again = RawConnection(server.port)
    again.hello()
    assert refused(again, "auth.resume", token=customer.token)["code"] == "unauthenticated"
    relogged = ok(again, "auth.login", username="naik-pangkat", password=PASSWORD)
    assert relogged["user"]["role"] == "clerk"
    same = ok(boss, "admin.user.set_role", user_id=made["id"], role="clerk")["user"]
    assert same["role"] == "clerk"
    assert [a for a, _ in audit_entries(server.db_url, f"user:{made['id']}")] == [
        "admin.user.create",
        "admin.user.set_role",
        "admin.user.set_role",
    ]


def test_disable_and_enable_again(servers):
    server = servers.start()
    boss = admin(server)
    made = created(boss, "cuti-panjang", "clerk")
    clerk = signed_in(server, "cuti-panjang")

    assert ok(boss, "admin.user.disable", user_id=made["id"])["user"]["disabled"] is True
    assert wait_until(lambda: ended(clerk), timeout=1.0) == {"reason": "disabled"}
    login = refused(clerk, "auth.login", username="cuti-panjang", password=PASSWORD)
    assert login["code"] == "unauthenticated" and "disabled" in login["message"]

    back = ok(boss, "admin.user.disable", user_id=made["id"], disabled=False)["user"]
    assert back["disabled"] is False
    ok(clerk, "auth.login", username="cuti-panjang", password=PASSWORD)
    assert audit_entries(server.db_url, f"user:{made['id']}")[1:] == [
        ("admin.user.disable", {"username": "cuti-panjang", "disabled": True}),
        ("admin.user.disable", {"username": "cuti-panjang", "disabled": False}),
    ]


def test_errors_name_the_missing_user_and_refuse_changing_oneself(servers):
    server = servers.start()
    boss = admin(server)
    me = ok(boss, "auth.resume", token=boss.token)["user"]["id"]

    missing = refused(boss, "admin.user.disable", user_id=999_999)
    demote_me = refused(boss, "admin.user.set_role", user_id=me, role="clerk")
    disable_me = refused(boss, "admin.user.disable", user_id=me)

    assert (missing["code"], missing["details"]) == ("not_found", {"kind": "user", "id": 999_999})
    assert demote_me["code"] == disable_me["code"] == "invalid_state"
    assert demote_me["details"]["reason"] == disable_me["details"]["reason"] == "self"
    enable_me = ok(boss, "admin.user.disable", user_id=me, disabled=False)["user"]
    assert enable_me["id"] == me and enable_me["disabled"] is False, "enabling oneself: harmless"
    ok(boss, "order.list")  # still signed in


@pytest.fixture
def two_servers(servers, pg_schema_url):
    init_demo(pg_schema_url)
    return [servers.start(db_url=pg_schema_url) for _ in range(2)]


@pytest.mark.pg
def test_disabling_a_clerk_signs_it_out_on_the_other_server_within_a_second(two_servers):
    here, there = two_servers
    boss = admin(here)
    clerk = created(boss, "pindah-kerja", "clerk")
    elsewhere = signed_in(there, "pindah-kerja")
    ok(elsewhere, "order.subscribe", limit=1)

    began = time.monotonic()
    ok(boss, "admin.user.disable", user_id=clerk["id"])
    assert wait_until(lambda: ended(elsewhere), timeout=1.0) == {"reason": "disabled"}
    assert time.monotonic() - began < 1.0

    assert refused(elsewhere, "order.list")["code"] == "unauthenticated"
    resumed = refused(elsewhere, "auth.resume", token=elsewhere.token)
    assert resumed["code"] == "unauthenticated"
    login = refused(elsewhere, "auth.login", username="pindah-kerja", password=PASSWORD)
    assert login["code"] == "unauthenticated" and "disabled" in login["message"]


@pytest.mark.pg
def test_two_admins_disabling_each_other_at_once_on_two_servers_leave_one(
    two_servers, pg_schema_url
):
    """Both requests reach their writers while the test holds the two admin rows; when it
    lets go, one change wins and the other, seeing it, is refused: an enabled admin stays."""
    here, there = two_servers
    boss = admin(here)
    first = created(boss, "admin-utara", "admin")
    second = created(boss, "admin-selatan", "admin")
    north, south = signed_in(here, "admin-utara"), signed_in(there, "admin-selatan")
    ok(north, "admin.user.disable", user_id=_id_of(boss))

    with psycopg2.connect(pg_schema_url) as hold, hold.cursor() as cursor:
        ids = (first["id"], second["id"])
        cursor.execute("SELECT id FROM users WHERE id IN %s FOR UPDATE", (ids,))
        asked = [
            (north, north.request("admin.user.disable", user_id=second["id"])),
            (south, south.request("admin.user.disable", user_id=first["id"])),
        ]
        wait_until(lambda: _waiting_on_locks(cursor) >= 2, timeout=10, what="both writers")
        hold.rollback()
    answers = [conn.answer(request_id) for conn, request_id in asked]

    assert sorted(a["ok"] for a in answers) == [False, True], answers
    (loser,) = [a["error"] for a in answers if not a["ok"]]
    assert (loser["code"], loser["details"]["reason"]) == ("invalid_state", "last_admin")
    with opened(pg_schema_url) as db:
        enabled = db.execute_sql(
            "SELECT count(*) FROM users WHERE role = 'admin' AND NOT disabled"
        ).fetchone()[0]
    assert enabled == 1


def _id_of(conn: Signed) -> int:
    return ok(conn, "auth.resume", token=conn.token)["user"]["id"]


def _waiting_on_locks(cursor: Any) -> int:
    """Backends waiting on a lock now: the cursor is inside the transaction holding the
    rows, where PostgreSQL would otherwise show the activity of its first look each time."""
    cursor.execute("SELECT pg_stat_clear_snapshot()")
    cursor.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
        "AND datname = current_database() AND pid <> pg_backend_pid()"
    )
    return cursor.fetchone()[0]
