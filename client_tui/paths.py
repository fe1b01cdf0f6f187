"""Where the client keeps its files: the user's config dir and data dir.

XDG on Linux and other Unix (`$XDG_CONFIG_HOME`, `$XDG_DATA_HOME`, else `~/.config` and
`~/.local/share`), `~/Library/Application Support` on macOS, `%APPDATA%` on Windows; each
with a `warung` folder. Small enough not to need a dependency.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

APP_DIR = "warung"


def config_dir() -> Path:
    """The folder for `client.json` and a kept session."""
    return _base("XDG_CONFIG_HOME", ".config") / APP_DIR


def data_dir() -> Path:
    """The folder for the demo shop's database, its password and its log."""
    return _base("XDG_DATA_HOME", ".local/share") / APP_DIR


def _base(xdg_variable: str, unix_default: str) -> Path:
    if value := os.environ.get(xdg_variable):
        return Path(value)
    if sys.platform == "win32":
        return Path(os.environ.get("APPDATA") or Path.home() / "AppData" / "Roaming")
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support"
    return Path.home() / unix_default


def write_private(path: Path, text: str) -> None:
    """Write `text` to `path` readable by the user only (mode 0600), replacing it whole.

    The file is created 0600 before any byte goes in, then renamed into place, so a
    secret is never readable by others, not even for a moment, nor left half written.
    """
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(text)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
