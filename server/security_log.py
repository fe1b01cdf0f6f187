"""The security log: one JSON line per security event, with who and from where.

Every sign-in (success and failure), throttle, authorization refusal, refused connection
and change to an account or its sessions is recorded here through `SecurityLog.record`,
never with a password, token, TOTP code or secret. Listeners (the audit log of the
administration work) get the same events as dicts.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from twisted.logger import Logger

from server.audit import SECRET_KEYS
from server.clock import Clock

Listener = Callable[[dict[str, Any]], None]
log = Logger(namespace="warung.security")


class SecurityLog:
    def __init__(self, clock: Clock, write: Callable[[str], None] | None = None) -> None:
        """`write` takes each JSON line (newline included); None: the server's own log."""
        self.clock = clock
        self._write = write
        self.listeners: list[Listener] = []

    def record(
        self,
        event: str,
        address: str,
        user_id: int | None = None,
        username: str | None = None,
        **details: Any,
    ) -> None:
        """Record `event` (`auth.login.failed`, `authz.forbidden`, ...) from `address`."""
        secrets = SECRET_KEYS.intersection(details)
        if secrets:
            raise ValueError(f"the security log never keeps a secret ({sorted(secrets)})")
        entry: dict[str, Any] = {
            "ts": self.clock.seconds(),
            "event": event,
            "address": address,
            "user_id": user_id,
            "username": username,
            **details,
        }
        line = json.dumps(entry, separators=(",", ":"), default=str)
        if self._write is None:
            log.info("security {line}", line=line)
        else:
            self._write(line + "\n")
        for listener in self.listeners:
            listener(entry)
