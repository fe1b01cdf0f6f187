"""Back up the database to a file.

SQLite: the online backup API copies a consistent snapshot while the server keeps running (in WAL
mode readers do not block writers); the copy is checked, switched to a plain rollback journal so
that it is one self-contained file, and only then renamed to DEST. Either kind of backup is
written readable by its owner alone (mode 0600).

PostgreSQL: `pg_dump --format=custom` when it is installed; otherwise `PgDumpMissing` carries
the command to run. Only the schema in the URL's `search_path` (`?options=-csearch_path%3DNAME`)
is dumped when one is set; else the whole database.

`db.restore` puts either kind back (`warung-server restore`).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from db.url import DatabaseURL, parse_url, resolve


class BackupError(RuntimeError):
    """The backup could not be made; nothing was written to DEST."""


class PgDumpMissing(BackupError):
    """pg_dump is not installed here; `command` is what to run where it is."""

    def __init__(self, command: str) -> None:
        super().__init__(f"pg_dump is not installed here; run this where it is:\n  {command}")
        self.command = command


def backup(url: str | None, dest: str | Path, *, overwrite: bool = False) -> Path:
    """Back up the database at `url` (None: `$WARUNG_DB` or the default) to `dest`.

    Refuses to replace an existing `dest` unless `overwrite`. Returns the path written.
    """
    parsed = parse_url(resolve(url))
    dest = Path(dest)
    if dest.exists() and not overwrite:
        raise BackupError(f"{dest} already exists; choose another name, or replace it (--force)")
    partial = dest.with_name(f".{dest.name}.partial-{os.getpid()}")
    try:
        private_file(partial)
    except OSError as exc:
        raise BackupError(f"cannot write the backup {dest}: {exc.strerror}") from None
    try:
        if parsed.kind == "sqlite":
            _sqlite(parsed, dest, partial)
        else:
            _pg_dump(parsed, dest, partial)
        partial.replace(dest)
    finally:
        partial.unlink(missing_ok=True)
    return dest


def private_file(path: Path) -> None:
    """Create the empty file `path` readable by its owner alone: a copy of the database
    holds password hashes, two-factor secrets and the cursor key, whatever the umask."""
    os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))


def _sqlite(parsed: DatabaseURL, dest: Path, partial: Path) -> None:
    source_path = Path(parsed.path)
    if parsed.path == ":memory:" or not source_path.is_file():
        raise BackupError(f"there is no SQLite database file at {parsed.path}")
    if dest.exists() and dest.resolve() == source_path.resolve():
        raise BackupError("the backup cannot replace the database it copies")
    try:
        with online_copy(sqlite3.connect(source_path, timeout=5), partial) as copy:
            copy.execute("PRAGMA journal_mode = DELETE")
            (verdict,) = copy.execute("PRAGMA quick_check").fetchone()
    except sqlite3.Error as exc:
        raise BackupError(f"cannot back up {parsed.describe()}: {exc}") from None
    if verdict != "ok":
        raise BackupError(f"the copy of {parsed.describe()} fails its check: {verdict}")


@contextmanager
def online_copy(source: sqlite3.Connection, dest: Path) -> Iterator[sqlite3.Connection]:
    """Copy the open database `source` to the file `dest` with SQLite's online backup API and
    yield the copy, open; both are closed after. `sqlite3.Error` is the caller's to report."""
    try:
        copy = sqlite3.connect(dest)
        try:
            source.backup(copy)
            yield copy
        finally:
            copy.close()
    finally:
        source.close()


def pg_dump_command(parsed: DatabaseURL, dest: Path) -> list[str]:
    """The pg_dump command line (no password in it: libpq takes that from PGPASSWORD)."""
    command = ["pg_dump", "--format=custom", "--no-password", "-f", str(dest)]
    schema = search_path_schema(parsed)
    if schema:
        command.append(f"--schema={schema}")
    return [*command, parsed.without_password()]


def search_path_schema(parsed: DatabaseURL) -> str | None:
    """The schema the URL's `options=-csearch_path=NAME` names, if it names one."""
    options = dict(parsed.params).get("options", "")
    schema = re.search(r"search_path\s*=\s*([^\s,]+)", options)
    return schema.group(1) if schema else None


def _pg_dump(parsed: DatabaseURL, dest: Path, partial: Path) -> None:
    if shutil.which("pg_dump") is None:
        shown = pg_dump_command(parsed, dest)
        shown.remove("--no-password")
        prefix = "PGPASSWORD=... " if parsed.password else ""
        raise PgDumpMissing("umask 077; " + prefix + shlex.join(shown))  # 0600, as ours
    done = subprocess.run(
        pg_dump_command(parsed, partial), env=pg_env(parsed), capture_output=True, text=True
    )
    if done.returncode != 0:
        raise BackupError(
            f"pg_dump of {parsed.describe()} failed: {tool_reason(parsed, done.stderr)}"
        )


def pg_env(parsed: DatabaseURL) -> dict[str, str]:
    """The environment for a libpq tool: ours, with the URL's password in PGPASSWORD."""
    env = dict(os.environ)
    if parsed.password is not None:
        env["PGPASSWORD"] = parsed.password
    return env


def tool_reason(parsed: DatabaseURL, stderr: str) -> str:
    """A libpq tool's complaint on one line, without the URL's password."""
    reason = " ".join(stderr.split())
    return reason.replace(parsed.password, "***") if parsed.password else reason
