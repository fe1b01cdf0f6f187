"""Two-factor sign-in: TOTP codes that work once each, recovery codes, and turning it on
and off only with the account's password.

A code is good for its 30-second step and the steps either side (clock skew), so a code
seen over a shoulder or in a log would work for up to 90 s, as often as anyone likes. The
last step used is kept per user (`users.totp_last_step`), and a code is taken by a
conditional UPDATE that only moves that step forward: of two sign-ins racing with one code,
the second finds the step taken (on PostgreSQL it waits for the first's row lock, then
re-reads the row), so exactly one passes.

Recovery codes are 120 random bits each, shown once, stored as a SHA-256 keyed by the user
(at 112 bits or more a random secret needs no slow salted hash, ASVS 5.0 V6.5.2, as for
session tokens) and spent by a conditional UPDATE as well.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

import peewee as pw
import pyotp

from protocol.errors import BadRequest, InvalidState, Unauthenticated
from server import sql
from server.clock import Clock
from server.dbexec import Executor
from server.dispatch import Call
from server.security_log import SecurityLog
from server.services.reauth import Reauth, moment
from server.write_jobs import write_job

STEP_S = 30
RECOVERY_CODES = 10
RECOVERY_CODE_CHARS = 24  # 5 bits each: 120 bits
_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"
CODE_NEEDED = "a current two-factor code is needed"


def step_of(secret: str, code: str, now: float) -> int | None:
    """The time step whose code `code` is: now's, or the one before or after; else None."""
    totp, current = pyotp.TOTP(secret), int(now // STEP_S)
    for step in (current - 1, current, current + 1):
        if hmac.compare_digest(totp.at(step * STEP_S), code):
            return step
    return None


def new_recovery_codes() -> list[str]:
    """Ten codes of 24 characters a-z2-7 (120 bits), written in groups of four
    (`abcd-efgh-ijkl-mnop-qrst-uvwx`)."""
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = "".join(secrets.choice(_ALPHABET) for _ in range(RECOVERY_CODE_CHARS))
        codes.append("-".join(raw[i : i + 4] for i in range(0, RECOVERY_CODE_CHARS, 4)))
    return codes


def recovery_hash(user_id: int, code: str) -> str:
    """The stored form of a recovery code: dashes and case do not matter."""
    normal = code.replace("-", "").lower()
    return hashlib.sha256(f"{user_id}:{normal}".encode()).hexdigest()


@dataclass(frozen=True)
class SecondFactor:
    """What a sign-in spends in its write: a TOTP step or a recovery code's hash (or none)."""

    step: int | None = None
    recovery: str | None = None

    def to_job(self) -> list[Any]:
        return [self.step, self.recovery]


def second_factor(
    user_id: int, secret: str | None, enabled: bool, args: dict[str, Any], now: float
) -> SecondFactor:
    """The second factor `auth.login`'s arguments give; raises `Unauthenticated` when the
    account has TOTP on and they give no right one. Spent later, by `spend`."""
    if not enabled:
        return SecondFactor()
    code, recovery = args.get("totp"), args.get("recovery_code")
    if code is not None and recovery is not None:
        raise BadRequest(
            "give 'totp' or 'recovery_code', not both",
            {
                "field": "totp",
                "rule": "exactly_one_of",
                "fields": ["totp", "recovery_code"],
            },
        )
    if recovery is not None:
        return SecondFactor(recovery=recovery_hash(user_id, recovery))
    step = None if code is None or secret is None else step_of(secret, code, now)
    if step is None:
        raise Unauthenticated(CODE_NEEDED, {"totp_required": True})
    return SecondFactor(step=step)


def spend(db: pw.Database, user_id: int, factor: list[Any], now: float) -> str | None:
    """Spend a `SecondFactor.to_job()` in a write job: the step moves forward, or the
    recovery code is marked used. Returns what was spent (`totp`, `recovery_code`, None);
    raises `Unauthenticated` when it was spent already."""
    step, recovery = factor
    if step is not None:
        taken = sql.execute(
            db,
            "UPDATE users SET totp_last_step = ? WHERE id = ? "
            "AND (totp_last_step IS NULL OR totp_last_step < ?)",
            (step, user_id, step),
        )
        if taken.rowcount != 1:
            raise Unauthenticated(
                "this two-factor code was used already: wait for the next one",
                {"totp_required": True},
            )
        return "totp"
    if recovery is not None:
        used = sql.execute(
            db,
            "UPDATE recovery_codes SET used_at = ? WHERE user_id = ? AND code_hash = ? "
            "AND used_at IS NULL",
            (moment(now), user_id, recovery),
        )
        if used.rowcount != 1:
            raise Unauthenticated(
                "that recovery code is wrong or used: give a current two-factor code or "
                "another recovery code",
                {"totp_required": True},
            )
        return "recovery_code"
    return None


class TotpService:
    """auth.totp.*: each needs the current password, so a stolen session cannot use them."""

    def __init__(self, dbx: Executor, clock: Clock, reauth: Reauth, security: SecurityLog) -> None:
        self.dbx = dbx
        self.clock = clock
        self.reauth = reauth
        self.security = security

    async def enroll(self, call: Call) -> dict[str, Any]:
        me = await self.reauth.check(call)
        secret = pyotp.random_base32()
        await self.dbx.write(enroll_totp, me.user_id, secret)
        uri = pyotp.TOTP(secret).provisioning_uri(name=me.username, issuer_name="warung")
        return {"secret": secret, "uri": uri}

    async def confirm(self, call: Call) -> dict[str, Any]:
        me = await self.reauth.check(call)
        codes = new_recovery_codes()
        hashes = [recovery_hash(me.user_id, c) for c in codes]
        now = self.clock.seconds()
        await self.dbx.write(confirm_totp, me.user_id, call.args["code"], hashes, now)
        self.security.record("auth.totp.enabled", call.peer.address, me.user_id, me.username)
        return {"recovery_codes": codes}

    async def disable(self, call: Call) -> dict[str, Any]:
        me = await self.reauth.check(call)
        code, recovery = call.args.get("code"), call.args.get("recovery_code")
        digest = None if recovery is None else recovery_hash(me.user_id, recovery)
        now = self.clock.seconds()
        spent = await self.dbx.write(disable_totp, me.user_id, code, digest, now)
        self._record_spent(call, spent)
        self.security.record("auth.totp.disabled", call.peer.address, me.user_id, me.username)
        return {}

    async def recovery_codes(self, call: Call) -> dict[str, Any]:
        me = await self.reauth.check(call)
        codes = new_recovery_codes()
        hashes = [recovery_hash(me.user_id, c) for c in codes]
        await self.dbx.write(replace_recovery_codes, me.user_id, hashes)
        self.security.record(
            "auth.totp.recovery_codes_replaced", call.peer.address, me.user_id, me.username
        )
        return {"recovery_codes": codes}

    def _record_spent(self, call: Call, spent: str | None) -> None:
        if spent == "recovery_code":
            me = call.identity
            self.security.record(
                "auth.recovery_code.used", call.peer.address, me.user_id, me.username
            )


@write_job
def enroll_totp(db: pw.Database, user_id: int, secret: str) -> None:
    cursor = sql.execute(
        db, "UPDATE users SET totp_secret = ? WHERE id = ? AND NOT totp_enabled", (secret, user_id)
    )
    if cursor.rowcount != 1:
        raise InvalidState("two-factor sign-in is already on", {"reason": "totp_enabled"})


@write_job
def confirm_totp(db: pw.Database, user_id: int, code: str, hashes: list[str], now: float) -> None:
    """TOTP on, the code's step spent, `hashes` the only recovery codes."""
    found = sql.one(db, "SELECT totp_secret, totp_enabled FROM users WHERE id = ?", (user_id,))
    if found is None or found[0] is None:
        raise InvalidState("call auth.totp.enroll first", {"reason": "not_enrolled"})
    if found[1]:
        raise InvalidState(
            "two-factor sign-in is already on: auth.totp.recovery_codes gives new recovery codes",
            {"reason": "totp_enabled"},
        )
    _spend_code(db, user_id, found[0], code, now)
    sql.execute(db, "UPDATE users SET totp_enabled = ? WHERE id = ?", (True, user_id))
    replace_recovery_codes(db, user_id, hashes)


@write_job
def disable_totp(
    db: pw.Database, user_id: int, code: str | None, recovery: str | None, now: float
) -> str | None:
    """TOTP off, its secret and recovery codes gone; returns the factor spent."""
    found = sql.one(db, "SELECT totp_secret, totp_enabled FROM users WHERE id = ?", (user_id,))
    if found is None or not found[1]:
        raise InvalidState("two-factor sign-in is not on", {"reason": "totp_disabled"})
    spent: str | None = "totp"
    if code is not None:
        _spend_code(db, user_id, found[0], code, now)
    else:
        try:
            spent = spend(db, user_id, [None, recovery], now)
        except Unauthenticated:
            raise BadRequest(
                "wrong or used recovery code: give another, or a current code as 'code'",
                {"field": "recovery_code", "rule": "wrong code"},
            ) from None
    sql.execute(
        db,
        "UPDATE users SET totp_enabled = ?, totp_secret = NULL WHERE id = ?",
        (False, user_id),
    )
    sql.execute(db, "DELETE FROM recovery_codes WHERE user_id = ?", (user_id,))
    return spent


@write_job
def replace_recovery_codes(db: pw.Database, user_id: int, hashes: list[str]) -> None:
    """`hashes` become the user's only recovery codes; refused while TOTP is off."""
    enabled = sql.one(db, "SELECT totp_enabled FROM users WHERE id = ?", (user_id,))
    if enabled is None or not enabled[0]:
        raise InvalidState("two-factor sign-in is not on", {"reason": "totp_disabled"})
    sql.execute(db, "DELETE FROM recovery_codes WHERE user_id = ?", (user_id,))
    for digest in hashes:
        sql.execute(
            db, "INSERT INTO recovery_codes (user_id, code_hash) VALUES (?, ?)", (user_id, digest)
        )


def _spend_code(db: pw.Database, user_id: int, secret: str, code: str, now: float) -> None:
    """Spend `code`'s step, or raise `BadRequest` naming the field `code`."""
    step = step_of(secret, code, now)
    try:
        if step is None:
            raise Unauthenticated(CODE_NEEDED)
        spend(db, user_id, [step, None], now)
    except Unauthenticated:
        raise BadRequest(
            "wrong or already used code: give the current code from the authenticator app",
            {"field": "code", "rule": "wrong code"},
        ) from None
