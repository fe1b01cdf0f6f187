"""An account's sessions and sign-in settings over real servers: TOTP codes that sign in
once (also when two sign-ins race, on SQLite and on two servers sharing PostgreSQL), a
password change that ends the other sessions on their live connections, the session list,
revoking one and signing out everywhere, `warung-server user disable` reaching a live
connection within the session check period, and the operator's reset of a forgotten
password and of a lost second factor."""

from __future__ import annotations

import subprocess
import sys
import time
from typing import Any

import pytest

from tests.e2e.harness import ServerProcess, wait_until
from tests.e2e.raw import RawConnection, Signed, ok, refused
from tests.e2e.shopdb import init_demo
from tests.totp_codes import TotpCodes

PASSWORD = "password-accounts"
CHECK_S = 1.0  # the session check period the servers of these tests run with


def signed_in(server: ServerProcess, username: str, password: str = PASSWORD) -> Signed:
    conn = Signed(server.port)
    assert conn.call("hello", protocol=1, client=f"test/{username}")["ok"]
    answer = conn.call("auth.login", username=username, password=password)
    assert answer["ok"], answer
    conn.token = answer["result"]["token"]
    return conn


def registered(server: ServerProcess, username: str) -> Signed:
    """A new customer `username`, signed in on a connection of its own."""
    conn = server.raw()
    assert conn.call("auth.register", username=username, password=PASSWORD)["ok"]
    conn.close()
    return signed_in(server, username)


def ended(conn: RawConnection) -> dict[str, Any]:
    """The `session.ended` event this connection was sent (waits up to its timeout)."""
    return conn.receive(lambda m: m.get("event") == "session.ended")["data"]


def with_totp(conn: RawConnection) -> TotpCodes:
    """TOTP on for the connection's user, confirmed with the first code; the second is
    left for a sign-in."""
    codes = TotpCodes(ok(conn, "auth.totp.enroll", password=PASSWORD)["secret"])
    ok(conn, "auth.totp.confirm", password=PASSWORD, code=codes.first())
    return codes


def racing_logins(servers_: list[ServerProcess], username: str, code: str) -> list[str]:
    """One sign-in with `code` on a connection to each server, all sent before any answer
    is read: how each ended, `ok`, `used` (the code refused) or `busy` (refused because
    another sign-in of the account was being checked on that server, PROTOCOL.md 7)."""
    conns = [RawConnection(s.port) for s in servers_]
    for conn in conns:
        conn.hello()
    sent = [c.request("auth.login", username=username, password=PASSWORD, totp=code) for c in conns]
    answers = [c.answer(request_id) for c, request_id in zip(conns, sent, strict=True)]
    return [_outcome(answer) for answer in answers]


def _outcome(answer: dict[str, Any]) -> str:
    if answer["ok"]:
        return "ok"
    details = answer["error"]["details"]
    if details == {"totp_required": True}:
        return "used"
    assert details["reason"] == "account", answer
    return "busy"


def test_a_totp_code_signs_in_once_even_when_two_sign_ins_race(shop):
    code = with_totp(registered(shop, "sekali-saja")).second()

    assert racing_logins([shop, shop], "sekali-saja", code).count("ok") == 1
    assert racing_logins([shop, shop], "sekali-saja", code).count("ok") == 0
    assert wait_until(
        lambda: racing_logins([shop], "sekali-saja", code) == ["used"], what="a check, refused"
    )


@pytest.mark.pg
def test_one_totp_code_signs_in_once_on_two_servers_sharing_postgresql(servers, pg_schema_url):
    init_demo(pg_schema_url)
    two = [servers.start(db_url=pg_schema_url) for _ in range(2)]
    codes = with_totp(registered(two[0], "dua-server"))

    outcomes = racing_logins(two, "dua-server", codes.second())  # each server checks its own

    assert sorted(outcomes) == ["ok", "used"], outcomes


def test_a_stolen_session_cannot_turn_totp_on(shop):
    owner = registered(shop, "pemilik")
    thief = RawConnection(shop.port)
    thief.hello()
    ok(thief, "auth.resume", token=owner.token)

    assert refused(thief, "auth.totp.enroll")["details"]["field"] == "password"
    wrong = refused(thief, "auth.totp.enroll", password="a-guessed-password")
    assert wrong["details"] == {"field": "password", "rule": "wrong password"}
    assert refused(thief, "auth.totp.disable", password="x", code="123456")["code"] == (
        "bad_request"
    )
    assert ok(signed_in(shop, "pemilik"), "auth.session.list")  # no code asked


def test_password_change_needs_the_current_one_and_ends_other_sessions_live(shop):
    here = registered(shop, "ganti-sandi")
    same_session = RawConnection(shop.port)
    same_session.hello()
    ok(same_session, "auth.resume", token=here.token)
    elsewhere = signed_in(shop, "ganti-sandi")
    stranger = registered(shop, "orang-lain")

    wrong = refused(
        here, "auth.password.change", password="not-my-password", new_password="sandi-baru-123"
    )
    assert wrong["details"] == {"field": "password", "rule": "wrong password"}
    ok(elsewhere, "auth.session.list")
    ok(here, "auth.password.change", password=PASSWORD, new_password="sandi-baru-123")

    assert ended(elsewhere) == {"reason": "password_changed"}
    assert refused(elsewhere, "auth.session.list")["code"] == "unauthenticated"
    stale = RawConnection(shop.port)
    stale.hello()
    assert refused(stale, "auth.resume", token=elsewhere.token)["code"] == "unauthenticated"
    ok(here, "auth.session.list")
    ok(same_session, "auth.session.list")
    ok(stranger, "auth.session.list")
    assert refused(stale, "auth.login", username="ganti-sandi", password=PASSWORD)
    assert ok(stale, "auth.login", username="ganti-sandi", password="sandi-baru-123")["token"]


def test_sessions_are_listed_revoked_one_by_one_and_ended_everywhere(shop):
    first = registered(shop, "banyak-sesi")
    second, third = signed_in(shop, "banyak-sesi"), signed_in(shop, "banyak-sesi")
    other = registered(shop, "sesi-lain")

    sessions = ok(second, "auth.session.list")["sessions"]

    assert len(sessions) == 3 and [s["current"] for s in sessions] == [False, True, False]
    assert {s["address"] for s in sessions} == {"127.0.0.1"}
    assert {s["client"] for s in sessions} == {"test/banyak-sesi"}
    assert all(s["last_used_at"] >= s["created_at"] for s in sessions)
    assert all(s["expires_at"] > s["last_used_at"] for s in sessions)
    third_id = sessions[0]["id"]
    theirs = ok(other, "auth.session.list")["sessions"][0]["id"]
    assert refused(first, "auth.session.revoke", session_id=theirs)["details"] == {
        "kind": "session",
        "id": theirs,
    }
    ok(first, "auth.session.revoke", session_id=third_id)
    assert ended(third) == {"reason": "revoked"}
    assert refused(third, "cart.get")["code"] == "unauthenticated"
    assert len(ok(first, "auth.session.list")["sessions"]) == 2

    ok(first, "auth.logout", everywhere=True)

    assert ended(first) == ended(second) == {"reason": "logout_everywhere"}
    for conn in (first, second):
        assert refused(conn, "auth.session.list")["code"] == "unauthenticated"
        again = RawConnection(shop.port)
        again.hello()
        assert refused(again, "auth.resume", token=conn.token)["code"] == "unauthenticated"
    ok(other, "auth.session.list")


def test_disabling_with_the_cli_ends_a_live_connections_session(servers):
    server = servers.start("--limit", f"session_check_s={CHECK_S}")
    customer = registered(server, "akan-dimatikan")
    bystander = registered(server, "tetap-hidup")

    began = time.monotonic()
    cli("user", "disable", "akan-dimatikan", db=server.db_url)
    assert wait_until(
        lambda: _ended_now(customer), timeout=CHECK_S + 5, what="the session.ended push"
    ) == {"reason": "disabled"}

    assert time.monotonic() - began < CHECK_S + 5
    assert refused(customer, "cart.get")["code"] == "unauthenticated"
    ok(bystander, "cart.get")
    login = refused(customer, "auth.login", username="akan-dimatikan", password=PASSWORD)
    assert "disabled" in login["message"]
    cli("user", "enable", "akan-dimatikan", db=server.db_url)
    ok(customer, "auth.login", username="akan-dimatikan", password=PASSWORD)


def _ended_now(conn: RawConnection) -> dict[str, Any] | None:
    """The `session.ended` push if it came within a moment, else None (to poll)."""
    timeout, conn.timeout = conn.timeout, 0.05
    try:
        return ended(conn)
    except TimeoutError:
        return None
    finally:
        conn.timeout = timeout


def test_the_operator_resets_a_forgotten_password_and_a_lost_second_factor(servers):
    """Both factors lost: `user password` sets a new one (the live session ends, the old
    password no longer signs in) and `user totp-off` lets the password sign in alone."""
    server = servers.start("--limit", f"session_check_s={CHECK_S}")
    customer = registered(server, "lupa-semua")
    with_totp(customer)

    said = cli(
        "user",
        "password",
        "lupa-semua",
        "--password-stdin",
        db=server.db_url,
        stdin="a-new-password-9\n",
    )
    assert "sessions ended: 1" in said
    assert wait_until(
        lambda: _ended_now(customer), timeout=CHECK_S + 5, what="the session.ended push"
    ) == {"reason": "revoked"}
    old = refused(customer, "auth.login", username="lupa-semua", password=PASSWORD)
    assert old["code"] == "unauthenticated"
    needs_code = refused(customer, "auth.login", username="lupa-semua", password="a-new-password-9")
    assert needs_code["details"] == {"totp_required": True}

    assert "two-factor sign-in is off" in cli("user", "totp-off", "LUPA-SEMUA", db=server.db_url)
    ok(customer, "auth.login", username="lupa-semua", password="a-new-password-9")
    assert "was not on" in cli("user", "totp-off", "lupa-semua", db=server.db_url)
    with server.client("admin") as admin:  # each change is in the log, made by no account
        entries = admin.call("admin.audit.list", action="host.user.")["items"]
    mine = [e for e in entries if e["details"].get("username") == "lupa-semua"]
    assert [(e["action"], e["user_id"], e["details"]) for e in reversed(mine)] == [
        ("host.user.password", None, {"username": "lupa-semua", "sessions_ended": 1}),
        ("host.user.totp_off", None, {"username": "lupa-semua", "was_on": True}),
        ("host.user.totp_off", None, {"username": "lupa-semua", "was_on": False}),
    ]
    assert len({e["target"] for e in mine}) == 1 and mine[0]["target"].startswith("user:")


def cli(*args: str, db: str, stdin: str = "") -> str:
    """Run `warung-server` with `args`; what it said (it must succeed)."""
    done = subprocess.run(
        [sys.executable, "-m", "server.cli", *args, "--db", db],
        input=stdin,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    return done.stderr
