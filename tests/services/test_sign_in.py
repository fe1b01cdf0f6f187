"""Sign-in in process, on a Clock: failed sign-ins throttled per address, sessions signed
out on every connection, two-factor codes."""

from __future__ import annotations

from typing import Any

import pyotp
import pytest
from twisted.internet.defer import Deferred, fail
from twisted.internet.task import Clock

from db.accounts import create_user
from protocol.errors import ErrorCode
from server.services.auth import AuthService
from server.session_registry import SessionRegistry
from server.write_jobs import unavailable
from tests.services.inline_db import InlineDatabase, Recorder, ask_from, error, result

PASSWORD = "kopi-susu-123"
PER_MIN = 3  # failed sign-ins per address: one more each 20 s


@pytest.fixture
def sessions() -> SessionRegistry:
    return SessionRegistry()


@pytest.fixture
def auth(db: Any, dbx: InlineDatabase, clock: Clock, sessions: SessionRegistry) -> AuthService:
    create_user("dewi", PASSWORD, "customer")
    return AuthService(dbx, clock, sessions, PER_MIN)


def login(
    auth: AuthService, peer: Recorder, password: str = PASSWORD, **more: Any
) -> Deferred[Any]:
    return ask_from(peer, auth.login, "auth.login", username="dewi", password=password, **more)


def test_failed_sign_ins_are_throttled_per_address_until_the_clock_moves_on(
    auth: AuthService, dbx: InlineDatabase, clock: Clock
) -> None:
    here = Recorder(address="10.0.0.1")
    unknown = ask_from(here, auth.login, "auth.login", username="nobody", password=PASSWORD)
    assert error(unknown).code == ErrorCode.UNAUTHENTICATED
    for _ in range(PER_MIN - 1):
        assert error(login(auth, here, "wrong password")).code == ErrorCode.UNAUTHENTICATED
    reads = dbx.reads

    throttled = error(login(auth, here))  # the right password, but too soon

    assert throttled.code == ErrorCode.RATE_LIMITED
    assert throttled.details == {"reason": "address", "retry_after_ms": 20_001}
    assert dbx.reads == reads, "refused before any password is checked"
    assert here.identity is None
    clock.advance(19)
    assert error(login(auth, here)).code == ErrorCode.RATE_LIMITED
    clock.advance(1)
    signed_in = result(login(auth, here))
    assert signed_in["user"]["username"] == "dewi" and here.identity is not None
    assert here.identity.username == "dewi"


def test_another_address_is_not_throttled(auth: AuthService) -> None:
    for _ in range(PER_MIN):
        error(login(auth, Recorder(address="10.0.0.1"), "wrong password"))
    assert error(login(auth, Recorder(address="10.0.0.1"))).code == ErrorCode.RATE_LIMITED

    assert result(login(auth, Recorder(address="10.0.0.2")))["user"]["username"] == "dewi"


def test_only_failed_sign_ins_count(auth: AuthService) -> None:
    here = Recorder(address="10.0.0.1")
    for _ in range(PER_MIN - 1):
        error(login(auth, here, "wrong password"))
    for _ in range(2 * PER_MIN):
        result(login(auth, here))

    assert error(login(auth, here, "wrong password")).code == ErrorCode.UNAUTHENTICATED
    assert error(login(auth, here)).code == ErrorCode.RATE_LIMITED


def test_an_unavailable_database_is_not_a_failed_sign_in(
    auth: AuthService, dbx: InlineDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    here = Recorder(address="10.0.0.1")
    with monkeypatch.context() as down:
        down.setattr(dbx, "read", lambda work: fail(unavailable("connection refused")))
        for _ in range(PER_MIN):
            assert error(login(auth, here)).code == ErrorCode.UNAVAILABLE

    assert result(login(auth, here))["user"]["username"] == "dewi"


def test_sign_out_ends_the_session_on_each_of_its_connections_only(
    auth: AuthService, sessions: SessionRegistry
) -> None:
    first, second, other = Recorder(), Recorder(), Recorder()
    token = result(login(auth, first))["token"]
    result(ask_from(second, auth.resume, "auth.resume", token=token))
    result(login(auth, other))
    assert first.identity is not None and second.identity is not None
    assert other.identity is not None
    session_id = first.identity.session_id
    assert second.identity.session_id == session_id != other.identity.session_id
    for conn in (first, second, other):  # as the factory registers a connection's sign-in
        assert conn.identity is not None
        sessions.add(conn, conn.identity.session_id)

    assert result(ask_from(second, auth.logout, "auth.logout")) == {}

    assert first.identity is None and second.identity is None
    assert other.identity is not None
    resumed = error(ask_from(Recorder(), auth.resume, "auth.resume", token=token))
    assert resumed.code == ErrorCode.UNAUTHENTICATED


def test_two_factor_sign_in_needs_a_current_code_once_confirmed(
    auth: AuthService, clock: Clock
) -> None:
    clock.advance(1_800_000_000)  # a moment in 2027, so the codes are those of a real day
    me = Recorder()
    result(login(auth, me))
    enrolled = ask_from(me, auth.totp.enroll, "auth.totp.enroll", password=PASSWORD)
    secret = result(enrolled)["secret"]
    assert result(login(auth, Recorder()))["token"], "not on until confirmed"

    totp, now = pyotp.TOTP(secret), clock.seconds()
    current = {totp.at(now + step * 30) for step in (-1, 0, 1)}
    code = next(c for c in ("000000", "111111", "222222") if c not in current)

    def confirm(code: str) -> Deferred[Any]:
        return ask_from(me, auth.totp.confirm, "auth.totp.confirm", password=PASSWORD, code=code)

    wrong = error(confirm(code))
    assert wrong.code == ErrorCode.BAD_REQUEST and wrong.details["field"] == "code"
    assert len(result(confirm(totp.at(now - 30)))["recovery_codes"]) == 10

    without = error(login(auth, Recorder()))
    assert without.code == ErrorCode.UNAUTHENTICATED
    assert without.details == {"totp_required": True}
    assert result(login(auth, Recorder(), totp=totp.at(now)))["token"]
    again = error(ask_from(me, auth.totp.enroll, "auth.totp.enroll", password=PASSWORD))
    assert again.code == ErrorCode.INVALID_STATE and again.details == {"reason": "totp_enabled"}
