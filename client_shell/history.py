"""The shell's history file: readable by its owner alone, holding no line too long to edit."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from prompt_toolkit.history import FileHistory

MAX_LINE = 10_000  # characters in a line: the prompt redraws and copies it for every key


class ShellHistory(FileHistory):
    """`FileHistory` in a file only its owner may read or write (a line may hold a password
    typed as `auth.login password=...`). Lines over `MAX_LINE` characters are neither kept
    nor read back: one pasted by mistake made every Ctrl-R search take minutes."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
        path.chmod(0o600)  # a file from before this rule was kept readable by everyone
        super().__init__(str(path))

    def load_history_strings(self) -> Iterable[str]:
        return (line for line in super().load_history_strings() if len(line) <= MAX_LINE)

    def store_string(self, string: str) -> None:
        if len(string) <= MAX_LINE:
            super().store_string(string)
