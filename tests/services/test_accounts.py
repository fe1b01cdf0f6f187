"""An account's sign-in settings in process, on a Clock: TOTP codes that work once, TOTP
turned on and off only with the password, recovery codes, password change, and sessions'
idle and absolute lifetimes (also as the periodic session check sees them)."""

from __future__ import annotations

from typing import Any

import pyotp
import pytest
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock

from db.accounts import create_user, set_disabled
from protocol.errors import ErrorCode
from server.limits import Limits
from server.security_log import SecurityLog
from server.services.account_sessions import SessionLifetimes
from server.services.auth import AuthService
from server.services.session_check import SessionCheck
from server.session_registry import SessionRegistry
from tests.services.inline_db import (
    InlineDatabase,
    InlineHashing,
    Recorder,
    ask_from,
    error,
    result,
)

PASSWORD = "kopi-susu-123"
T0 = 1_800_000_000.0  # a moment in 2027, on a 30 s step boundary
LIFETIMES = SessionLifetimes(idle_s=600, absolute_s=3600, staff_idle_s=60, staff_absolute_s=300)


@pytest.fixture
def clock() -> Clock:
    clock = Clock()
    clock.advance(T0)
    return clock


@pytest.fixture
def sessions() -> SessionRegistry:
    return SessionRegistry()


@pytest.fixture
def events() -> list[dict[str, Any]]:
    return []


@pytest.fixture
def auth(
    db: Any,
    dbx: InlineDatabase,
    clock: Clock,
    sessions: SessionRegistry,
    events: list[dict[str, Any]],
) -> AuthService:
    create_user("dewi", PASSWORD, "customer")
    create_user("citra", PASSWORD, "clerk")
    security = SecurityLog(clock, write=lambda line: None)
    security.listeners.append(events.append)
    return AuthService(dbx, clock, sessions, Limits(), InlineHashing(), security, LIFETIMES)


def login(auth: AuthService, peer: Recorder | None = None, **more: Any) -> Deferred[Any]:
    args = {"username": "dewi", "password": PASSWORD, **more}
    return ask_from(peer or Recorder(), auth.login, "auth.login", **args)


def signed_in(auth: AuthService, sessions: SessionRegistry, user: str = "dewi") -> Recorder:
    """A connection signed in as `user`, registered as the factory registers it."""
    peer = Recorder()
    result(login(auth, peer, username=user))
    assert peer.identity is not None
    sessions.add(peer, peer.identity.session_id)
    return peer


def turn_on_totp(auth: AuthService, me: Recorder, clock: Clock) -> tuple[pyotp.TOTP, list[str]]:
    """TOTP on for `me`'s user, confirmed with the code of the step before now's."""
    totp = _enroll(auth, me)
    code = totp.at(clock.seconds() - 30)
    confirmed = ask_from(me, auth.totp.confirm, "auth.totp.confirm", password=PASSWORD, code=code)
    return totp, result(confirmed)["recovery_codes"]


def _enroll(auth: AuthService, me: Recorder) -> pyotp.TOTP:
    enrolled = ask_from(me, auth.totp.enroll, "auth.totp.enroll", password=PASSWORD)
    return pyotp.TOTP(result(enrolled)["secret"])


def test_a_totp_code_signs_in_once(auth: AuthService, clock: Clock) -> None:
    me = Recorder()
    result(login(auth, me))
    totp, _ = turn_on_totp(auth, me, clock)
    code = totp.at(clock.seconds())

    assert result(login(auth, totp=code))["token"]
    again = error(login(auth, totp=code))

    assert again.code == ErrorCode.UNAUTHENTICATED
    assert again.details == {"totp_required": True} and "used already" in again.message
    clock.advance(30)
    assert result(login(auth, totp=totp.at(clock.seconds())))["token"], "the next step's code"


def test_a_code_of_a_step_before_the_last_used_is_refused(auth: AuthService, clock: Clock) -> None:
    me = Recorder()
    result(login(auth, me))
    totp, _ = turn_on_totp(auth, me, clock)
    assert result(login(auth, totp=totp.at(clock.seconds() + 30)))["token"]  # skew ahead

    older = error(login(auth, totp=totp.at(clock.seconds())))

    assert older.code == ErrorCode.UNAUTHENTICATED and older.details == {"totp_required": True}


def test_the_code_that_confirmed_totp_does_not_sign_in(auth: AuthService, clock: Clock) -> None:
    me = Recorder()
    result(login(auth, me))
    totp = _enroll(auth, me)
    code = totp.at(clock.seconds())
    result(ask_from(me, auth.totp.confirm, "auth.totp.confirm", password=PASSWORD, code=code))

    assert error(login(auth, totp=code)).code == ErrorCode.UNAUTHENTICATED


def test_enroll_and_confirm_need_the_current_password(auth: AuthService, clock: Clock) -> None:
    stolen = Recorder()  # a session someone else holds: no password
    result(login(auth, stolen))

    missing = error(ask_from(stolen, auth.totp.enroll, "auth.totp.enroll"))
    wrong = error(ask_from(stolen, auth.totp.enroll, "auth.totp.enroll", password="guess-123"))

    assert missing.code == ErrorCode.BAD_REQUEST and missing.details["field"] == "password"
    assert wrong.code == ErrorCode.BAD_REQUEST
    assert wrong.details == {"field": "password", "rule": "wrong password"}
    totp = _enroll(auth, Recorder(identity=stolen.identity))  # the owner, who knows it
    code = totp.at(clock.seconds())
    confirm = ask_from(stolen, auth.totp.confirm, "auth.totp.confirm", password="x", code=code)
    assert error(confirm).details == {"field": "password", "rule": "wrong password"}
    assert result(login(auth))["user"]["totp_enabled"] is False


def test_password_checks_are_limited_per_account(auth: AuthService) -> None:
    me = Recorder()
    result(login(auth, me))
    for _ in range(10):
        refused = ask_from(me, auth.totp.enroll, "auth.totp.enroll", password="guess-123")
        assert error(refused).code == ErrorCode.BAD_REQUEST

    throttled = error(ask_from(me, auth.totp.enroll, "auth.totp.enroll", password=PASSWORD))

    assert throttled.code == ErrorCode.RATE_LIMITED
    assert throttled.details["reason"] == "account"


def test_a_recovery_code_signs_in_once(
    auth: AuthService, clock: Clock, events: list[dict[str, Any]]
) -> None:
    me = Recorder()
    result(login(auth, me))
    totp, codes = turn_on_totp(auth, me, clock)
    assert len(codes) == 10 and len(set(codes)) == 10

    assert result(login(auth, recovery_code=codes[0].upper()))["token"]
    used = error(login(auth, recovery_code=codes[0]))

    assert used.code == ErrorCode.UNAUTHENTICATED and used.details == {"totp_required": True}
    both = error(login(auth, recovery_code=codes[1], totp=totp.at(clock.seconds())))
    assert both.details == {  # PROTOCOL.md: `field` is the first of `fields`
        "field": "totp",
        "rule": "exactly_one_of",
        "fields": ["totp", "recovery_code"],
    }
    assert result(login(auth, recovery_code=codes[1].replace("-", "")))["token"]
    assert [e["event"] for e in events].count("auth.recovery_code.used") == 2
    assert all(codes[0] not in str(e) for e in events), "no code in the security log"


def test_new_recovery_codes_replace_the_old_and_need_the_password(
    auth: AuthService, clock: Clock
) -> None:
    me = Recorder()
    result(login(auth, me))
    _, old = turn_on_totp(auth, me, clock)
    refused = ask_from(me, auth.totp.recovery_codes, "auth.totp.recovery_codes", password="no")
    assert error(refused).code == ErrorCode.BAD_REQUEST

    ask = ask_from(me, auth.totp.recovery_codes, "auth.totp.recovery_codes", password=PASSWORD)
    new = result(ask)["recovery_codes"]

    assert error(login(auth, recovery_code=old[2])).code == ErrorCode.UNAUTHENTICATED
    assert result(login(auth, recovery_code=new[2]))["token"]


def test_totp_is_turned_off_with_the_password_and_a_code(
    auth: AuthService, clock: Clock, events: list[dict[str, Any]]
) -> None:
    me = Recorder()
    result(login(auth, me))
    totp, codes = turn_on_totp(auth, me, clock)
    code = totp.at(clock.seconds())

    def disable(**args: Any) -> Deferred[Any]:
        return ask_from(me, auth.totp.disable, "auth.totp.disable", **args)

    assert error(disable(password="wrong-one", code=code)).code == ErrorCode.BAD_REQUEST
    assert error(disable(password=PASSWORD)).details["rule"] == "exactly_one_of"
    assert result(disable(password=PASSWORD, recovery_code=codes[0])) == {}

    assert result(login(auth))["user"]["totp_enabled"] is False
    not_on = error(disable(password=PASSWORD, code=code))
    assert not_on.code == ErrorCode.INVALID_STATE and not_on.details == {"reason": "totp_disabled"}
    assert {"auth.totp.enabled", "auth.totp.disabled"} <= {e["event"] for e in events}


def test_password_change_needs_the_current_password_and_ends_the_other_sessions(
    auth: AuthService, sessions: SessionRegistry
) -> None:
    here, there = signed_in(auth, sessions), signed_in(auth, sessions)
    other_user = signed_in(auth, sessions, "citra")

    def change(password: str) -> Deferred[Any]:
        return ask_from(
            here,
            auth.password.change,
            "auth.password.change",
            password=password,
            new_password="teh-manis-456",
        )

    assert error(change("guess-1234")).details == {"field": "password", "rule": "wrong password"}
    assert there.identity is not None
    assert result(change(PASSWORD)) == {}

    assert here.identity is not None and other_user.identity is not None
    assert there.identity is None and there.of("session.ended") == [{"reason": "password_changed"}]
    assert here.of("session.ended") == []
    assert error(login(auth)).code == ErrorCode.UNAUTHENTICATED
    assert result(login(auth, password="teh-manis-456"))["token"]


def test_a_sign_in_past_the_accounts_session_limit_ends_its_least_recently_used(
    db: Any, dbx: InlineDatabase, clock: Clock, sessions: SessionRegistry
) -> None:
    create_user("dewi", PASSWORD, "customer")
    security = SecurityLog(clock, write=lambda line: None)
    events: list[dict[str, Any]] = []
    security.listeners.append(events.append)
    rules = SessionLifetimes(per_account=3)
    auth = AuthService(dbx, clock, sessions, Limits(), InlineHashing(), security, rules)

    def sign_in() -> tuple[Recorder, str, int]:
        peer = Recorder()
        token = result(login(auth, peer))["token"]
        assert peer.identity is not None
        sessions.add(peer, peer.identity.session_id)
        return peer, token, peer.identity.session_id

    (first, first_token, _), (unused, token, unused_id), _ = [sign_in() for _ in range(3)]
    clock.advance(1)
    result(ask_from(Recorder(), auth.resume, "auth.resume", token=first_token))  # used again
    clock.advance(1)
    newest, _, _ = sign_in()  # the fourth: one too many

    assert unused.identity is None and unused.of("session.ended") == [{"reason": "session_limit"}]
    [limited] = [e for e in events if e["event"] == "auth.session.limit"]
    assert (limited["username"], limited["sessions"]) == ("dewi", 1)
    assert first.identity is not None and newest.identity is not None
    listed = result(ask_from(newest, auth.accounts.list, "auth.session.list"))["sessions"]
    assert len(listed) == 3 and unused_id not in {s["id"] for s in listed}
    refused = ask_from(Recorder(), auth.resume, "auth.resume", token=token)
    assert error(refused).code == ErrorCode.UNAUTHENTICATED


def test_a_session_idle_past_its_idle_lifetime_does_not_resume(
    auth: AuthService, clock: Clock
) -> None:
    token = result(login(auth))["token"]

    def resume() -> Deferred[Any]:
        return ask_from(Recorder(), auth.resume, "auth.resume", token=token)

    clock.advance(599)
    assert result(resume())["user"]["username"] == "dewi"  # used: idle from here
    clock.advance(599)
    assert result(resume())
    clock.advance(600)
    assert error(resume()).code == ErrorCode.UNAUTHENTICATED


def test_a_session_ends_at_its_absolute_lifetime_however_used(
    auth: AuthService, clock: Clock
) -> None:
    token = result(login(auth))["token"]
    for _ in range(7):
        clock.advance(500)
        assert result(ask_from(Recorder(), auth.resume, "auth.resume", token=token))
    clock.advance(100)  # 3600 s after sign-in

    assert error(ask_from(Recorder(), auth.resume, "auth.resume", token=token)).code == (
        ErrorCode.UNAUTHENTICATED
    )


def test_staff_sessions_are_shorter(auth: AuthService, clock: Clock) -> None:
    token = result(login(auth, username="citra"))["token"]
    clock.advance(60)

    resumed = ask_from(Recorder(), auth.resume, "auth.resume", token=token)

    assert error(resumed).code == ErrorCode.UNAUTHENTICATED


def test_the_session_check_keeps_held_sessions_and_ends_them_at_their_lifetime(
    auth: AuthService, dbx: InlineDatabase, clock: Clock, sessions: SessionRegistry
) -> None:
    check = SessionCheck(dbx, clock, sessions, auth.security)
    held, idle = signed_in(auth, sessions), signed_in(auth, sessions)
    assert idle.identity is not None
    sessions.discard(idle, idle.identity.session_id)  # its connection went away
    for _ in range(6):  # 3000 s, well past the idle lifetime: held by a connection
        clock.advance(500)
        result(Deferred.fromCoroutine(check.run()))
    assert held.identity is not None and held.of("session.ended") == []
    list_ = ask_from(held, auth.accounts.list, "auth.session.list")
    assert [s["current"] for s in result(list_)["sessions"]] == [True], "the idle one is gone"

    clock.advance(600)  # 3600 s after sign-in
    result(Deferred.fromCoroutine(check.run()))

    assert held.identity is None and held.of("session.ended") == [{"reason": "expired"}]


def test_the_session_check_signs_out_a_disabled_account(
    auth: AuthService,
    dbx: InlineDatabase,
    clock: Clock,
    sessions: SessionRegistry,
    events: list[dict[str, Any]],
) -> None:
    check = SessionCheck(dbx, clock, sessions, auth.security)
    dewi, citra = signed_in(auth, sessions), signed_in(auth, sessions, "citra")
    result(Deferred.fromCoroutine(check.run()))
    set_disabled("dewi", True)  # as `warung-server user disable` does, in another process

    result(Deferred.fromCoroutine(check.run()))

    assert dewi.identity is None and dewi.of("session.ended") == [{"reason": "disabled"}]
    assert citra.identity is not None
    assert [e["username"] for e in events if e["event"] == "auth.account_disabled.noticed"] == [
        "dewi"
    ]
