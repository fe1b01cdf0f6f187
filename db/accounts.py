"""User accounts.

`create_user` checks the role only: its caller (`warung-server user add`) checks the username
and password rules of `protocol.rules` first and reports a broken one as a usage error.
"""

from __future__ import annotations

from typing import Any

import peewee as pw

from db.audit_entry import details_json, target_of
from db.models import AuditLog, RecoveryCode, Session, User, database_proxy, utcnow
from db.passwords import hash_password
from db.transactions import write_transaction
from protocol.rules import ROLES


class UserExists(Exception):
    """A user with this username already exists."""

    def __init__(self, username: str) -> None:
        super().__init__(f"a user named {username!r} already exists")
        self.username = username


def create_user(username: str, password: str, role: str) -> User:
    """Create a user; the username is stored lowercase and the password only as its hash.

    Raises `UserExists` when the (lowercased) name is taken and `ValueError` for an unknown role.
    """
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    username = username.lower()
    password_hash = hash_password(password)  # slow on purpose: before the transaction
    try:
        with database_proxy.atomic():
            user = User.create(username=username, password_hash=password_hash, role=role)
            _audit("add", user, role=role)
            return user
    except pw.IntegrityError:
        if User.select().where(User.username == username).exists():
            raise UserExists(username) from None
        raise


class UnknownUser(Exception):
    """No user has this username."""

    def __init__(self, username: str) -> None:
        super().__init__(f"no user is named {username!r}")
        self.username = username


def set_disabled(username: str, disabled: bool) -> tuple[User, int]:
    """Disable (and end every session of) or enable the user: (the user, sessions ended).

    A running server signs out the connections of an ended session at its next session
    check (`server.services.session_check`); enabling again does not revive them.
    """
    with write_transaction(database_proxy):  # a running server may write between read and write
        found = _user(username)
        User.update(disabled=disabled).where(User.id == found.id).execute()
        ended = _end_sessions(found) if disabled else 0
        _audit("disable" if disabled else "enable", found, sessions_ended=ended)
    found.disabled = disabled
    return found, ended


def set_password(username: str, password: str) -> tuple[User, int]:
    """Give the user a new password (a forgotten one, set by the operator) and end every
    session of theirs: (the user, sessions ended). Two-factor sign-in stays as it was."""
    password_hash = hash_password(password)  # slow on purpose: before the transaction
    with write_transaction(database_proxy):
        found = _user(username)
        User.update(password_hash=password_hash).where(User.id == found.id).execute()
        ended = _end_sessions(found)
        _audit("password", found, sessions_ended=ended)
    return found, ended


def turn_off_totp(username: str) -> tuple[User, bool]:
    """Turn the user's two-factor sign-in off, its secret and recovery codes gone (both
    factors lost): (the user, whether it was on). The password signs in alone again."""
    with write_transaction(database_proxy):
        found = _user(username)
        was_on = bool(found.totp_enabled)
        User.update(totp_enabled=False, totp_secret=None).where(User.id == found.id).execute()
        RecoveryCode.delete().where(RecoveryCode.user == found.id).execute()
        _audit("totp_off", found, was_on=was_on)
    return found, was_on


def _user(username: str) -> User:
    found = User.get_or_none(User.username == username.lower())
    if found is None:
        raise UnknownUser(username.lower())
    return found


def _audit(change: str, user: User, **details: Any) -> None:
    """The audit log's entry for `change` made to `user` on the server's host, with the
    change: `host.user.<change>`, by no account (PROTOCOL.md 11.8)."""
    AuditLog.create(
        user_id=None,
        action=f"host.user.{change}",
        target=target_of("user", user.id),
        details=details_json({"username": user.username, **details}),
    )


def _end_sessions(user: User) -> int:
    live = (Session.user == user.id) & Session.revoked_at.is_null()
    return int(Session.update(revoked_at=utcnow()).where(live).execute())
