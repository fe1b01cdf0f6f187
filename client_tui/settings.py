"""What the client remembers between runs, in the user's config dir.

- `client.json`: the last server (host, port, TLS) and user name. Never a password.
- `session.json` (mode 0600): a session token, only when the user ticked "stay signed in",
  with the server and user it belongs to. A token is as good as a password for 30 days,
  so it is written private and removed on sign-out or when the server no longer takes it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from client_tui.connection import Target
from client_tui.paths import config_dir, write_private

CLIENT_FILE = "client.json"
SESSION_FILE = "session.json"


@dataclass(frozen=True)
class Remembered:
    target: Target | None = None
    user: str = ""


@dataclass(frozen=True)
class KeptSession:
    target: Target
    user: str
    token: str


class Settings:
    def __init__(self, folder: Path | None = None) -> None:
        self.folder = folder or config_dir()

    def remembered(self) -> Remembered:
        data = _read(self.folder / CLIENT_FILE)
        return Remembered(_target(data), str(data.get("user") or ""))

    def remember(self, target: Target, user: str) -> None:
        data = {**_target_fields(target), "user": user}
        path = self.folder / CLIENT_FILE
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")

    def kept_session(self, target: Target) -> KeptSession | None:
        """The kept session for this server, if there is one."""
        data = _read(self.folder / SESSION_FILE)
        kept = _target(data)
        token, user = data.get("token"), data.get("user")
        if kept != target or not isinstance(token, str) or not isinstance(user, str):
            return None
        return KeptSession(kept, user, token)

    def keep_session(self, target: Target, user: str, token: str) -> None:
        data = {**_target_fields(target), "user": user, "token": token}
        write_private(self.folder / SESSION_FILE, json.dumps(data, indent=2) + "\n")

    def forget_session(self) -> None:
        (self.folder / SESSION_FILE).unlink(missing_ok=True)


def _read(path: Path) -> dict[str, Any]:
    """The JSON map in `path`; an absent or damaged file counts as empty."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _target_fields(target: Target) -> dict[str, Any]:
    return {"host": target.host, "port": target.port, "tls": target.tls, "cafile": target.cafile}


def _target(data: dict[str, Any]) -> Target | None:
    host, port = data.get("host"), data.get("port")
    if not isinstance(host, str) or not isinstance(port, int) or isinstance(port, bool):
        return None
    cafile = data.get("cafile") if isinstance(data.get("cafile"), str) else None
    return Target(host, port, bool(data.get("tls")), cafile)
