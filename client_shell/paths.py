"""Where the shell keeps its history: the user's data dir, as XDG says."""

from __future__ import annotations

import os
from pathlib import Path


def history_file() -> Path:
    """`$XDG_DATA_HOME/warung/shell_history`, else `~/.local/share/warung/shell_history`."""
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "warung" / "shell_history"
