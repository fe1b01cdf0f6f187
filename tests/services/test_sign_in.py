"""Sign-in in process, on a Clock: failed sign-ins throttled per address and per account
(checked and charged before any password is), sign-ups limited per address, common
passwords refused, security events recorded, sessions signed out on every connection,
two-factor codes."""

from __future__ import annotations

from typing import Any

import pyotp
import pytest
from twisted.internet.defer import Deferred, fail
from twisted.internet.task import Clock

from db.accounts import create_user
from protocol.errors import ErrorCode
from server.limits import Limits
from server.security_log import SecurityLog
from server.services.auth import AuthService
from server.session_registry import SessionRegistry
from server.write_jobs import unavailable
from tests.services.inline_db import (
    InlineDatabase,
    InlineHashing,
    Recorder,
    ask_from,
    error,
    result,
)

PASSWORD = "kopi-susu-123"
PER_MIN = 3  # failed sign-ins per address: one more each 20 s


@pytest.fixture
def sessions() -> SessionRegistry:
    return SessionRegistry()


LIMITS = Limits(failed_logins_per_address_per_min=PER_MIN, registrations_per_address_per_hour=2)
FREE = LIMITS.free_failed_logins_per_account  # failures in a row before the delays start


@pytest.fixture
def hashing() -> InlineHashing:
    return InlineHashing()


@pytest.fixture
def security(clock: Clock) -> list[dict[str, Any]]:
    """The security events the service records, as dicts."""
    return []


@pytest.fixture
def auth(
    db: Any,
    dbx: InlineDatabase,
    clock: Clock,
    sessions: SessionRegistry,
    hashing: InlineHashing,
    security: list[dict[str, Any]],
) -> AuthService:
    create_user("dewi", PASSWORD, "customer")
    log = SecurityLog(clock, write=lambda line: None)
    log.listeners.append(security.append)
    return AuthService(dbx, clock, sessions, LIMITS, hashing, security=log)


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


class HeldHashing:
    """A hashing pool whose hashes wait until the test releases them, in order."""

    def __init__(self) -> None:
        self.held: list[tuple[Deferred[Any], Any, tuple[Any, ...]]] = []

    def run(self, work: Any, *args: Any) -> Deferred[Any]:
        d: Deferred[Any] = Deferred()
        self.held.append((d, work, args))
        return d

    def release(self) -> None:
        d, work, args = self.held.pop(0)
        d.callback(work(*args))


def from_(address: str) -> Recorder:
    return Recorder(address=address)


def test_a_wave_of_guesses_at_once_gets_one_password_checked_and_the_rest_refused(
    db: Any, dbx: InlineDatabase, clock: Clock, sessions: SessionRegistry
) -> None:
    """As a pipelined wave arrives: every attempt is admitted or refused before any hash ends."""
    create_user("dewi", PASSWORD, "customer")
    held = HeldHashing()
    auth = AuthService(dbx, clock, sessions, LIMITS, held)
    here = from_("10.0.0.1")
    guesses = [login(auth, here, f"guess-{i:04d}") for i in range(50)]
    right = login(auth, here)

    assert len(held.held) == 1, "one password of the account checked at a time"
    refused = [error(d) for d in [*guesses[1:], right]]
    assert {e.code for e in refused} == {ErrorCode.RATE_LIMITED}
    assert {e.details["reason"] for e in refused} == {"account"}
    assert all(e.details["retry_after_ms"] > 0 for e in refused)
    held.release()
    assert error(guesses[0]).code == ErrorCode.UNAUTHENTICATED
    assert here.identity is None
    again = login(auth, from_("10.0.0.2"))
    held.release()
    assert result(again)["token"], "free again once answered"


def test_a_wave_over_many_accounts_from_one_address_gets_its_budget_checked_and_no_more(
    db: Any, dbx: InlineDatabase, clock: Clock, sessions: SessionRegistry
) -> None:
    """Each attempt takes the address's token as it arrives, before its hash."""
    held = HeldHashing()
    auth = AuthService(dbx, clock, sessions, LIMITS, held)
    here = from_("10.0.0.1")
    wave = [
        ask_from(here, auth.login, "auth.login", username=f"user-{i}", password="tebak-tebak")
        for i in range(30)
    ]

    assert len(held.held) == PER_MIN
    refused = [error(d) for d in wave[PER_MIN:]]
    assert {(e.code, e.details["reason"]) for e in refused} == {(ErrorCode.RATE_LIMITED, "address")}
    while held.held:
        held.release()
    assert {error(d).code for d in wave[:PER_MIN]} == {ErrorCode.UNAUTHENTICATED}


def test_failed_sign_ins_on_one_account_from_many_addresses_are_throttled_per_account(
    auth: AuthService, dbx: InlineDatabase, hashing: InlineHashing
) -> None:
    for i in range(FREE):
        assert error(login(auth, from_(f"10.0.1.{i}"), "wrong password")).code == (
            ErrorCode.UNAUTHENTICATED
        )
    reads, hashes = dbx.reads, hashing.runs

    throttled = error(login(auth, from_("10.0.2.1")))  # right password, new address, too soon
    unknown = ask_from(from_("10.0.2.2"), auth.login, "auth.login", username="nobody", password="x")

    assert throttled.code == ErrorCode.RATE_LIMITED
    assert throttled.details == {"reason": "account", "retry_after_ms": 1001}
    assert (dbx.reads, hashing.runs) == (reads + 1, hashes + 1), "only the other account checked"
    assert error(unknown).code == ErrorCode.UNAUTHENTICATED


def test_the_delay_per_account_doubles_up_to_its_cap_and_a_success_resets_it(
    auth: AuthService, clock: Clock
) -> None:
    """However many failures, the owner waits at most the cap: never locked out for good."""
    for i in range(FREE):
        error(login(auth, from_(f"10.1.{i}.1"), "wrong password"))
    delays = []
    for i in range(13):
        refused = error(login(auth, from_(f"10.2.{i}.1")))  # the right password, too soon
        assert refused.details["reason"] == "account"
        delays.append(refused.details["retry_after_ms"])
        clock.advance(refused.details["retry_after_ms"] / 1000)
        failed = error(login(auth, from_(f"10.3.{i}.1"), "wrong password"))
        assert failed.code == ErrorCode.UNAUTHENTICATED

    doubling = [1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 64_000, 128_000, 256_000]
    expected = [*doubling, 300_000, 300_000, 300_000, 300_000]
    assert delays == pytest.approx([ms + 1 for ms in expected], abs=1)  # rounded up
    assert error(login(auth, from_("10.4.0.1"))).details["retry_after_ms"] >= 300_000
    clock.advance(300)
    assert result(login(auth, from_("10.4.0.2")))["token"]
    for i in range(FREE - 1):
        error(login(auth, from_(f"10.5.{i}.1"), "wrong password"))
    assert result(login(auth, from_("10.5.9.1")))["token"], "counted afresh after the success"


def register(auth: AuthService, peer: Recorder, username: str, password: str) -> Deferred[Any]:
    return ask_from(peer, auth.register, "auth.register", username=username, password=password)


def test_sign_ups_are_limited_per_address_before_any_hash(
    auth: AuthService, clock: Clock, hashing: InlineHashing
) -> None:
    here = from_("10.0.0.1")
    for name in ("ani-1", "ani-2"):  # LIMITS: 2 an hour, as a burst too
        assert result(register(auth, here, name, f"{name}-kopi-susu"))["user"]["username"] == name
    hashes = hashing.runs

    refused = error(register(auth, here, "ani-3", "ani-3-kopi-susu"))

    assert refused.code == ErrorCode.RATE_LIMITED
    assert refused.details == {"reason": "address", "retry_after_ms": 1_800_001}
    assert hashing.runs == hashes, "refused before the password is hashed"
    assert result(register(auth, from_("10.0.0.2"), "ani-3", "ani-3-kopi-susu"))["user"]
    clock.advance(1800)
    assert result(register(auth, here, "ani-4", "ani-4-kopi-susu"))["user"]


@pytest.mark.parametrize(
    ("password", "rule"),
    [
        ("password", "is one of the most common passwords: choose one that is hard to guess"),
        ("12345678", "is one of the most common passwords: choose one that is hard to guess"),
        ("Sunshine1", "is one of the most common passwords: choose one that is hard to guess"),
        ("Wayan-Kopi", "must not be the username"),
    ],
)
def test_a_common_password_or_the_username_is_refused_at_sign_up(
    auth: AuthService, hashing: InlineHashing, password: str, rule: str
) -> None:
    here = from_("10.0.0.1")

    refused = error(register(auth, here, "wayan-kopi", password))

    assert refused.code == ErrorCode.BAD_REQUEST
    assert refused.details == {"field": "password", "rule": rule}
    assert hashing.runs == 0
    for name in ("wayan-1", "wayan-2"):  # refusals took none of the address's sign-ups
        assert result(register(auth, here, name, "tukang-kopi-wayan"))["user"]


def test_sign_ins_sign_ups_and_throttles_are_in_the_security_log(
    auth: AuthService, security: list[dict[str, Any]]
) -> None:
    here = from_("10.0.0.1")
    error(login(auth, here, "wrong password"))
    result(login(auth, here))
    result(register(auth, here, "ketut", "ketut-kopi-susu"))
    for _ in range(PER_MIN - 1):  # with the first, the address's whole budget
        error(login(auth, here, "wrong password"))
    error(login(auth, here))

    events = [(e["event"], e["address"], e["username"]) for e in security]
    assert events == [
        ("auth.login.failed", "10.0.0.1", "dewi"),
        ("auth.login.ok", "10.0.0.1", "dewi"),
        ("auth.register", "10.0.0.1", "ketut"),
        *[("auth.login.failed", "10.0.0.1", "dewi")] * (PER_MIN - 1),
        ("auth.throttled", "10.0.0.1", "dewi"),
    ]
    assert security[0]["reason"] == "password"
    assert isinstance(security[1]["user_id"], int) and security[0]["user_id"] is None
    assert security[-1]["reason"] == "address" and security[-1]["retry_after_ms"] == 20_001
    assert not any(PASSWORD in str(e) or "wrong password" in str(e) for e in security)
