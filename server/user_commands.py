"""`warung-server user ...`: accounts from the server's host (add, disable and enable, a
forgotten password, a lost second factor)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import TypeVar

from db.accounts import (
    UnknownUser,
    UserExists,
    create_user,
    set_disabled,
    set_password,
    turn_off_totp,
)
from db.connect import disconnect
from protocol.rules import ROLES, password_problem, username_problem
from server.cli_common import PROG, UsageError, command, open_current, say

T = TypeVar("T")


def add_user_commands(commands: argparse._SubParsersAction) -> None:
    """`user` and its commands, under `commands`."""
    user = commands.add_parser("user", help="manage user accounts")
    user_commands = user.add_subparsers(dest="user_command", required=True, metavar="COMMAND")
    add = command(user_commands, "add", run_user_add, "create a user")
    add.add_argument("name", help="the username (stored lowercase)")
    add.add_argument("--role", required=True, choices=ROLES)
    add.add_argument(
        "--password-stdin",
        action="store_true",
        required=True,
        help="read the password from the first line of standard input",
    )
    for verb, summary in (
        ("disable", "disable a user: its sessions end, also on running servers"),
        ("enable", "let a disabled user sign in again"),
    ):
        switch = command(user_commands, verb, run_user_disable, summary)
        switch.add_argument("name", help="the username")
    password = command(
        user_commands,
        "password",
        run_user_password,
        "set a user's password (one forgotten): its sessions end, also on running servers",
    )
    password.add_argument("name", help="the username")
    password.add_argument(
        "--password-stdin",
        action="store_true",
        required=True,
        help="read the new password from the first line of standard input",
    )
    totp_off = command(
        user_commands,
        "totp-off",
        run_user_totp_off,
        "turn a user's two-factor sign-in off (authenticator and recovery codes both lost)",
    )
    totp_off.add_argument("name", help="the username")


def _password_from_stdin(name: str) -> str:
    """The first line of standard input, a password `name` may have (else a usage error)."""
    line = sys.stdin.readline()
    if not line:
        raise UsageError("no password on standard input (--password-stdin reads its first line)")
    password = line.rstrip("\r\n")
    problem = password_problem(password, name)
    if problem:
        raise UsageError(f"cannot use that password: {problem}")
    return password


def run_user_add(args: argparse.Namespace) -> int:
    name = args.name.lower()
    problem = username_problem(name)
    if problem:
        raise UsageError(f"cannot use the name {args.name!r}: {problem}")
    password = _password_from_stdin(name)
    db = open_current(args.db)
    try:
        user = create_user(name, password, args.role)
    except UserExists as exc:
        say(f"{PROG}: {exc}; choose another name")
        return 1
    finally:
        disconnect(db)
    say(f"created {user.role} {user.username!r} (id {user.id})")
    return 0


def run_user_disable(args: argparse.Namespace) -> int:
    disabled = args.user_command == "disable"
    done = _change_user(args.db, lambda: set_disabled(args.name, disabled))
    if done is None:
        return 1
    user, ended = done
    if disabled:
        say(f"disabled {user.username!r} (id {user.id}); sessions ended: {ended}")
    else:
        say(f"enabled {user.username!r} (id {user.id}); it signs in with its password")
    return 0


def run_user_password(args: argparse.Namespace) -> int:
    password = _password_from_stdin(args.name.lower())
    done = _change_user(args.db, lambda: set_password(args.name, password))
    if done is None:
        return 1
    user, ended = done
    say(f"set a new password for {user.username!r} (id {user.id}); sessions ended: {ended}")
    return 0


def run_user_totp_off(args: argparse.Namespace) -> int:
    done = _change_user(args.db, lambda: turn_off_totp(args.name))
    if done is None:
        return 1
    user, was_on = done
    who = f"{user.username!r} (id {user.id})"
    if was_on:
        say(f"two-factor sign-in is off for {who}: the password alone signs in")
    else:
        say(f"two-factor sign-in was not on for {who}: nothing changed")
    return 0


def _change_user(url: str | None, change: Callable[[], T]) -> T | None:
    """`change()` on the database at `url`, which must be current; None (said) when the
    user it names does not exist."""
    db = open_current(url)
    try:
        return change()
    except UnknownUser as exc:
        say(f"{PROG}: {exc}")
        return None
    finally:
        disconnect(db)
