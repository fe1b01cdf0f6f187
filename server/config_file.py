"""A TOML configuration file, read with the stdlib's tomllib, and where each key is in it.

tomllib gives no positions for the values it reads, so `where` finds a key's line in the
text itself: enough for keys written plainly (`key = ...`, `[table]`, `table.key = ...`).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HEADER = re.compile(r"\s*\[\s*([\w-]+)\s*\]")
ASSIGNMENT = re.compile(r"\s*([\w.\"'-]+)\s*=")


class ConfigFileError(ValueError):
    """The file cannot be read or is not TOML; the message names it, its line and key if known."""


@dataclass(frozen=True)
class ConfigFile:
    path: str
    text: str
    data: dict[str, Any]

    @classmethod
    def load(cls, path: str) -> ConfigFile:
        try:
            text = Path(path).read_bytes().decode("utf-8")
        except OSError as exc:
            raise ConfigFileError(
                f"cannot read the configuration file {path}: {exc.strerror}"
            ) from None
        except UnicodeDecodeError:
            raise ConfigFileError(f"{path}: the configuration file is not UTF-8 text") from None
        try:
            return cls(path, text, tomllib.loads(text))
        except tomllib.TOMLDecodeError as exc:
            at = re.search(r"at line (\d+)", str(exc))
            line = int(at.group(1)) if at else 0
            lines = text.splitlines()
            key = _written_key(lines[line - 1]) if 0 < line <= len(lines) else None
            where = f"{path}:{line}" if line else path
            named = f"{key}: " if key else ""
            raise ConfigFileError(f"{where}: {named}not valid TOML: {exc}") from None

    def where(self, key: str, table: str | None = None) -> str:
        """`path:line: key` (`table.key` for a key of a table), for a message about it."""
        line = self.line_of(key, table)
        name = f"{table}.{key}" if table else key
        return f"{self.path}:{line}: {name}" if line else f"{self.path}: {name}"

    def line_of(self, key: str, table: str | None = None) -> int | None:
        """The line that sets `key` (in `[table]`, or at the top), if it is written plainly."""
        wanted = f"{table}.{key}" if table else key
        current = None
        for number, line in enumerate(self.text.splitlines(), 1):
            header = HEADER.match(line)
            if header:
                current = full = header.group(1)
            elif (written := _written_key(line)) is None:
                continue
            else:
                full = f"{current}.{written}" if current else written
            if full == wanted or (table is None and full.startswith(f"{key}.")):
                return number
        return None


def _written_key(line: str) -> str | None:
    found = ASSIGNMENT.match(line)
    return found.group(1).replace('"', "").replace("'", "") if found else None
