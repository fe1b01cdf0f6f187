"""The security log: one JSON line per security event, with who and from where.

Every sign-in (success and failure), throttle, authorization refusal, refused connection,
privileged change and change to an account or its sessions is recorded here through
`SecurityLog.record`, never with a password, token, TOTP code or secret. Listeners (the
audit log of the administration work) get the same entries as dicts, as written.

A flood cannot flood the log: per event, address, op and user, a few lines a window are
written and the rest counted, then written as one summary line; per event and op, all
addresses together have a bounded number of lines a window (`server.log_flood`).
docs/security-log.md lists the events and their fields.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Hashable
from datetime import UTC, datetime
from typing import Any, cast

from twisted.logger import Logger
from twisted.python.logfile import LogFile

from db.audit_entry import SECRET_KEYS
from protocol.rules import USERNAME_RE
from server.clock import Clock
from server.log_flood import FloodGate, Suppressed

Listener = Callable[[dict[str, Any]], None]
log = Logger(namespace="warung.security")
LINES_PER_WINDOW = 5  # of one event, address, op and user; the rest of the window is counted
WINDOW_S = 60.0
GROUP_LINES = 200  # of one event and op from all addresses a window; the rest counted together
NAME_EXCERPT = 4  # characters kept of an attempted name that cannot be an account's
ROTATE_BYTES = 10 * 2**20  # a file of `--security-log` is rotated at this size,
KEPT_FILES = 10  # and this many rotated ones are kept (PATH.1 the newest)
FILE_MODE = 0o640  # of a new file: names and addresses are not for everyone


class SecurityLog:
    def __init__(
        self,
        clock: Clock,
        write: Callable[[str], None] | None = None,
        lines_per_window: int = LINES_PER_WINDOW,
        window_s: float = WINDOW_S,
        group_lines: int = GROUP_LINES,
    ) -> None:
        """`write` takes each JSON line (newline included); None: the server's own log."""
        self.clock = clock
        self._write = write
        self.listeners: list[Listener] = []
        self.gate = FloodGate(
            clock, self._summarise, _group, lines_per_window, window_s, group_lines
        )

    def record(
        self,
        event: str,
        address: str,
        user_id: int | None = None,
        username: str | None = None,
        **details: Any,
    ) -> None:
        """Record `event` (`auth.login.failed`, `authz.forbidden`, ...) from `address`.

        `username` may be what a client typed: it is kept only as `safe_username` has it.
        """
        secrets = SECRET_KEYS.intersection(details)
        if secrets:
            raise ValueError(f"the security log never keeps a secret ({sorted(secrets)})")
        entry: dict[str, Any] = {
            "event": event,
            "address": address,
            "user_id": user_id,
            "username": safe_username(username),
            **details,
        }
        if self.gate.admit((event, address, details.get("op"), user_id), entry):
            self._emit(entry)

    def write_to(self, write: Callable[[str], None] | None) -> None:
        """Send the lines to `write` from now on (None: the server's own log)."""
        self._write = write

    def flush(self) -> None:
        """Write the summaries of every window still counting (before the server stops)."""
        self.gate.flush()

    def _summarise(self, key: Hashable, suppressed: Suppressed) -> None:
        """One line for the events a window counted: the fields they all shared, how many
        there were, and when the first and the last came. Counted for their group (from
        many addresses), its address is null."""
        self._emit(
            {
                "address": None,
                "user_id": None,
                "username": None,
                **suppressed.common,
                "summary": True,
                "suppressed": suppressed.count,
                "first": iso_utc(suppressed.first),
                "last": iso_utc(suppressed.last),
            }
        )

    def _emit(self, entry: dict[str, Any]) -> None:
        entry = {"ts": iso_utc(self.clock.seconds()), **entry}
        line = json.dumps(entry, separators=(",", ":"), default=str)
        if self._write is None:
            log.info("security {line}", line=line)
        else:
            self._write(line + "\n")
        for listener in self.listeners:
            listener(entry)


def open_file(path: str) -> Callable[[str], None]:
    """What writes lines to the file at `path` (`--security-log`): appended, each line
    straight to the file (unbuffered), the file rotated by size. Raises OSError."""
    file = LogFile.fromFullPath(
        path, rotateLength=ROTATE_BYTES, defaultMode=FILE_MODE, maxRotatedFiles=KEPT_FILES
    )
    return lambda line: file.write(line.encode())


def _group(key: Hashable) -> Hashable:
    """The keys (event, address, op, user) of one event and op share a budget of lines."""
    event, _, op, _ = cast(tuple[str, str, str | None, int | None], key)
    return (event, None, op, None)


def iso_utc(seconds: float) -> str:
    """ISO-8601 in UTC, to the millisecond: `2026-11-30T09:25:17.123Z`."""
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def safe_username(name: str | None) -> str | None:
    """An attempted username as the log keeps it: the account name it stands for (sign-in
    lowercases it) when it could be one; otherwise only its first `NAME_EXCERPT` characters,
    lowercased too, and `…`, since what fails the username rule is often a password typed in
    the wrong field. Characters that are not printable become `?`."""
    if name is None:
        return None
    lowered = name.lower()
    if USERNAME_RE.match(lowered):
        return lowered
    excerpt = "".join(c if c.isprintable() else "?" for c in lowered[:NAME_EXCERPT])
    return excerpt + ("…" if len(lowered) > NAME_EXCERPT else "")
