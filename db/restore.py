"""Restore a backup made by `db.backup` into the database a URL names.

Checked before anything changes: SRC is a backup of the URL's kind (a SQLite file, or a
`pg_dump` custom archive) holding a warung schema no newer than this warung's; the target holds
no tables (else `force` is needed); and, on SQLite, no other program (a running server) has the
target open. A server must not run on the target during a restore: it caches the catalog and
keeps its sessions, and would go on from what it remembers.

SQLite: the backup is copied next to the target, migrated forward and checked there, and only
then renamed over the target (whose `-wal` and `-shm` go first, since they belong to the old
file), so a failure at any step leaves the target as it was.

PostgreSQL: the target schema (the URL's `search_path`, else `public`) is dropped and the
archive replayed, `DROP SCHEMA ...; pg_restore -f - SRC | psql --single-transaction`: the
restore commits whole or not at all. The restored schema is then migrated forward, each version
in its own transaction as always.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO
from urllib.parse import quote

import peewee as pw

from db.backup import online_copy, pg_env, private_file, search_path_schema, tool_reason
from db.connect import connect, disconnect
from db.conservation import check_conservation
from db.migrations import LATEST, migrate
from db.money import check_money
from db.url import DatabaseURL, parse_url, resolve

SQLITE_MAGIC = b"SQLite format 3\x00"
PG_DUMP_MAGIC = b"PGDMP"
_KIND_NAMES = {"sqlite": "SQLite", "postgresql": "PostgreSQL (pg_dump)"}
_TOC_TABLE = re.compile(r"^\d+; \d+ \d+ TABLE (\S+) (\S+) ", re.MULTILINE)


class RestoreError(RuntimeError):
    """The backup was not restored; the target is as it was (the message says why)."""


class RestoreRefused(RestoreError):
    """The target already holds tables, and `force` was not given."""


@dataclass(frozen=True)
class Restored:
    """What was restored: the backup's schema version, the version it was brought to, what it
    holds, and what the stock and money checks found wrong (nothing, normally)."""

    version: int
    migrated_to: int
    orders: int
    products: int
    problems: list[str]


def restore(url: str | None, src: str | Path, *, force: bool = False) -> Restored:
    """Restore the backup `src` into the database at `url` (None: `$WARUNG_DB` or the default).

    Raises `RestoreRefused` when the target holds tables and not `force`, `RestoreError` for
    every other reason not to restore.
    """
    resolved = resolve(url)
    parsed = parse_url(resolved)
    src = Path(src)
    kind = _backup_kind(src)
    if kind != parsed.kind:
        raise RestoreError(
            f"{src} is a {_KIND_NAMES[kind]} backup; it cannot be restored into the "
            f"{parsed.describe()}"
        )
    if parsed.kind == "sqlite":
        return _restore_sqlite(parsed, src, force)
    return _restore_postgresql(parsed, resolved, src, force)


def _backup_kind(src: Path) -> str:
    try:
        with src.open("rb") as file:
            head = file.read(len(SQLITE_MAGIC))
    except FileNotFoundError:
        raise RestoreError(f"there is no backup file at {src}") from None
    except OSError as exc:
        raise RestoreError(f"cannot read {src}: {exc.strerror or exc}") from None
    if head.startswith(SQLITE_MAGIC):
        return "sqlite"
    if head.startswith(PG_DUMP_MAGIC):
        return "postgresql"
    raise RestoreError(
        f"{src} is not a warung backup: neither a SQLite database nor a pg_dump archive"
    )


def _check_version(version: int, src: Path) -> None:
    if version == 0:
        raise RestoreError(f"{src} is not a warung backup: it has no schema_version table")
    if version > LATEST:
        raise RestoreError(
            f"{src} is at schema version {version}, but this warung only knows up to {LATEST}: "
            "restore it with the warung version that made it (or a newer one)"
        )


def _refused(where: str, held: str) -> RestoreRefused:
    return RestoreRefused(
        f"the {where} is not empty ({held}); restoring replaces everything in it: "
        "back it up first if it matters, then add --force"
    )


def _bring_forward(url: str) -> Restored:
    """Migrate the restored database to `LATEST` and check it."""
    db = connect(url, create=False, bind_models=False)
    try:
        before, after = migrate(db)
        (orders,) = db.execute_sql("SELECT COUNT(*) FROM orders").fetchone()
        (products,) = db.execute_sql("SELECT COUNT(*) FROM products").fetchone()
        problems = check_conservation(db) + check_money(db)
        return Restored(before, after, orders, products, problems)
    finally:
        disconnect(db)


def _describe(db: pw.Database, tables: list[str]) -> str | None:
    """What a restore would replace: None for nothing, else its tables and orders."""
    if not tables:
        return None
    held = f"{len(tables)} tables"
    if "orders" in tables:
        held += f", {db.execute_sql('SELECT COUNT(*) FROM orders').fetchone()[0]} orders"
    return held


# -- SQLite


def _restore_sqlite(parsed: DatabaseURL, src: Path, force: bool) -> Restored:
    target = Path(parsed.path)
    if parsed.path == ":memory:":
        raise RestoreError("cannot restore into an in-memory database")
    _check_version(_sqlite_version(src), src)
    if target.exists():
        if target.samefile(src):
            raise RestoreError(f"{src} is the database itself; restore a copy of it elsewhere")
        held = _sqlite_contents(parsed, target)
        if held and not force:
            raise _refused(parsed.describe(), held)
    partial = target.with_name(f".{target.name}.restoring-{os.getpid()}")
    try:
        private_file(partial)
    except OSError as exc:
        raise RestoreError(f"cannot write the database {target}: {exc.strerror}") from None
    try:
        _sqlite_copy(src, partial)
        restored = _bring_forward(f"sqlite:///{partial}")
        if target.exists():  # the database keeps the mode it had; a new one is 0600
            partial.chmod(target.stat().st_mode & 0o777)
        for leftover in ("-wal", "-shm"):
            Path(f"{target}{leftover}").unlink(missing_ok=True)
        partial.replace(target)
    finally:
        for leftover in ("", "-wal", "-shm"):
            Path(f"{partial}{leftover}").unlink(missing_ok=True)
    return restored


def _read_only(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{quote(str(path.resolve()))}?mode=ro", uri=True)


def _sqlite_version(src: Path) -> int:
    try:
        conn = _read_only(src)
        try:
            (verdict,) = conn.execute("PRAGMA quick_check").fetchone()
            if verdict != "ok":
                raise RestoreError(f"{src} is damaged (SQLite's quick_check: {verdict})")
            found = conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"
            ).fetchone()
            if found is None:
                return 0
            return int(conn.execute("SELECT MAX(version) FROM schema_version").fetchone()[0] or 0)
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise RestoreError(f"cannot read {src} as a SQLite database: {exc}") from None


def _refuse_if_open(parsed: DatabaseURL, target: Path) -> None:
    """Refuse when another connection has the target open. A server keeps its WAL-mode
    database open, and an open WAL connection keeps others from taking the exclusive lock."""
    try:
        probe = sqlite3.connect(target, timeout=0, isolation_level=None)
        try:
            probe.execute("PRAGMA locking_mode = EXCLUSIVE")
            probe.execute("BEGIN EXCLUSIVE")
            probe.execute("ROLLBACK")
        finally:
            probe.close()
    except sqlite3.DatabaseError as exc:
        if "locked" not in str(exc) and "busy" not in str(exc):
            return  # not a database that anything could have open: the caller says so
        raise RestoreError(
            f"the {parsed.describe()} is open in another program (a running warung-server?): "
            "stop every server using it, then restore"
        ) from None


def _sqlite_contents(parsed: DatabaseURL, target: Path) -> str | None:
    """What the target holds (None: nothing); a damaged file holds something too."""
    if target.stat().st_size == 0:
        return None
    _refuse_if_open(parsed, target)
    db = pw.SqliteDatabase(f"file:{quote(str(target.resolve()))}?mode=ro", uri=True)
    try:
        return _describe(db, db.get_tables())
    except pw.DatabaseError as exc:
        return f"it is not a readable SQLite database: {exc}"
    finally:
        db.close()


def _sqlite_copy(src: Path, dest: Path) -> None:
    try:
        with online_copy(_read_only(src), dest):
            pass
    except sqlite3.Error as exc:
        raise RestoreError(f"cannot copy {src} to {dest}: {exc}") from None


# -- PostgreSQL


def _restore_postgresql(parsed: DatabaseURL, url: str, src: Path, force: bool) -> Restored:
    for tool in ("pg_restore", "psql"):
        if shutil.which(tool) is None:
            raise RestoreError(
                f"{tool} is not installed here (Debian: apt-get install postgresql-client)"
            )
    schema = search_path_schema(parsed) or "public"
    toc = _pg_tool(parsed, ["pg_restore", "--list", str(src)], f"cannot read {src}")
    shops = {name for name, table in _TOC_TABLE.findall(toc) if table == "schema_version"}
    if shops and shops != {schema}:
        raise RestoreError(
            f"{src} holds the shop of schema {', '.join(sorted(shops))}, but the URL names "
            f"schema {schema}: restore it into a URL with ?options=-csearch_path%3D"
            f"{min(shops)}"
        )
    _check_version(_pg_version(parsed, src, schema) if shops else 0, src)
    held = _pg_contents(url, schema)
    if held and not force:
        raise _refused(f"{parsed.describe()} (schema {schema})", held)
    creates_schema = re.search(rf"^\d+; \d+ \d+ SCHEMA - {re.escape(schema)} ", toc, re.M)
    prelude = f'DROP SCHEMA IF EXISTS "{schema}" CASCADE;\n'
    if not creates_schema:
        prelude += f'CREATE SCHEMA "{schema}";\n'
    _replay(parsed, src, prelude)
    return _bring_forward(url)


def _pg_tool(parsed: DatabaseURL, command: list[str], failing: str) -> str:
    done = subprocess.run(command, env=pg_env(parsed), capture_output=True, text=True)
    if done.returncode != 0:
        raise RestoreError(f"{failing}: {tool_reason(parsed, done.stderr)}")
    return done.stdout


def _pg_version(parsed: DatabaseURL, src: Path, schema: str) -> int:
    """The highest version in the archive's schema_version rows (its COPY data)."""
    only = [f"--schema={schema}", "--table=schema_version"]
    script = _pg_tool(
        parsed,
        ["pg_restore", "--data-only", *only, "-f", "-", str(src)],
        f"cannot read the schema version in {src}",
    )
    copy = re.search(r"^COPY .*? FROM stdin;\n(.*?)^\\\.$", script, re.M | re.S)
    rows = copy.group(1).splitlines() if copy else []
    return max((int(row.split("\t", 1)[0]) for row in rows), default=0)


def _pg_contents(url: str, schema: str) -> str | None:
    db = connect(url, create=False, bind_models=False)
    try:
        return _describe(db, db.get_tables(schema=schema))
    finally:
        disconnect(db)


def _replay(parsed: DatabaseURL, src: Path, prelude: str) -> None:
    """`prelude`, then the archive as SQL, into psql in one transaction. If pg_restore fails
    while psql runs, psql is killed before the end of its input, so the transaction never
    commits; if psql stops at an error, pg_restore finds its pipe closed (SIGPIPE), and the
    error reported is psql's."""
    psql_command = ["psql", "--no-psqlrc", "--quiet", "--single-transaction", "--no-password"]
    psql_command += ["-v", "ON_ERROR_STOP=1", "-d", parsed.without_password()]
    env = pg_env(parsed)
    with tempfile.TemporaryFile() as psql_errors, tempfile.TemporaryFile() as restore_errors:
        psql = subprocess.Popen(
            psql_command,
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=psql_errors,
            env=env,
        )
        assert psql.stdin is not None
        restored = killed = False
        psql_gone = True  # when pg_restore could not write to it (or not even run)
        with contextlib.suppress(BrokenPipeError):  # psql stopped at an error: see below
            psql.stdin.write(prelude.encode())
            psql.stdin.flush()
            reader = subprocess.run(
                ["pg_restore", "--no-owner", "-f", "-", str(src)],
                stdout=psql.stdin,
                stderr=restore_errors,
                env=env,
            )
            restored = reader.returncode == 0
            psql_gone = reader.returncode == -signal.SIGPIPE or b"Broken pipe" in _read(
                restore_errors
            )
        if not restored and not psql_gone:
            psql.kill()  # pg_restore failed on its own: psql must not reach the end and commit
            killed = True
        with contextlib.suppress(BrokenPipeError):
            psql.stdin.close()
        if psql.wait() != 0 and not killed:
            raise RestoreError(f"psql failed; nothing was restored: {_text(parsed, psql_errors)}")
        if not restored:
            raise RestoreError(
                f"pg_restore failed; nothing was restored: {_text(parsed, restore_errors)}"
            )


def _read(file: IO[bytes]) -> bytes:
    file.seek(0)
    return file.read()


def _text(parsed: DatabaseURL, file: IO[bytes]) -> str:
    return tool_reason(parsed, _read(file).decode(errors="replace"))
