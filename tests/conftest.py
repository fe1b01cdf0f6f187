"""Shared fixtures: a fresh database on SQLite and on PostgreSQL.

`db_url` (and `database`, the same opened and migrated) runs a test once on a new SQLite file
and once on a new schema of the PostgreSQL at `$WARUNG_TEST_PG` (default
`postgresql://postgres@127.0.0.1:5432/test`). The PostgreSQL run skips, with the reason, when
that server does not answer, and fails instead when `WARUNG_REQUIRE_PG=1`.

`pg_url` is the base PostgreSQL URL itself (same skip rule), and `new_pg_schema` is
`fresh_pg_schema`: `with new_pg_schema() as url:` gives a URL whose `search_path` is a new,
empty schema, dropped with everything in it when the block ends (use it for a second database
in one test, or from a module- or session-scoped fixture of your own).

`shop` (one per module), `fresh_shop` (one per test) and `servers` (as many as a test starts,
with the options it needs) are real `warung-server` processes; see tests/e2e/harness.py.
"""

from __future__ import annotations

import functools
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import peewee as pw
import psycopg2
import pytest

from db.connect import DatabaseUnavailable, connect, disconnect
from db.migrations import migrate
from tests.e2e.harness import ServerProcess, Servers

DEFAULT_TEST_PG = "postgresql://postgres@127.0.0.1:5432/test"


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int | None:
    """`--numprocesses=auto` (pyproject.toml): one worker more than the cores this process may
    use. A test spends much of its time waiting on the servers, browsers and terminals it
    started, so one worker per core left a quarter of two cores idle: three workers took the
    suite from 739-745 s to 631 s on two cores, four to 672 s. PYTEST_XDIST_AUTO_NUM_WORKERS
    still decides when set."""
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS"):
        return None  # pytest-xdist's own hook reads it
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (cores or 1) + 1


def pg_base_url() -> str:
    return os.environ.get("WARUNG_TEST_PG") or DEFAULT_TEST_PG


@functools.cache
def _pg_problem() -> str | None:
    try:
        disconnect(connect(pg_base_url(), bind_models=False))
    except DatabaseUnavailable as exc:
        return str(exc)
    return None


def require_pg() -> str:
    """The PostgreSQL test URL; skips the test (fails with WARUNG_REQUIRE_PG=1) if it is down."""
    problem = _pg_problem()
    if problem:
        message = f"PostgreSQL tests need WARUNG_TEST_PG: {problem}"
        if os.environ.get("WARUNG_REQUIRE_PG") == "1":
            pytest.fail(f"{message} (WARUNG_REQUIRE_PG=1)", pytrace=False)
        pytest.skip(message)
    return pg_base_url()


def with_search_path(url: str, schema: str) -> str:
    """`url` with `options=-csearch_path=SCHEMA` added to its query string."""
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}options={quote(f'-csearch_path={schema}', safe='')}"


@contextmanager
def fresh_pg_schema(prefix: str = "t") -> Iterator[str]:
    """Create an empty schema in the test database; yield a URL that uses it; drop it after."""
    base = require_pg()
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = psycopg2.connect(base)
    admin.autocommit = True
    try:
        with admin.cursor() as cur:
            cur.execute(f'CREATE SCHEMA "{schema}"')
        yield with_search_path(base, schema)
    finally:
        with admin.cursor() as cur:
            cur.execute("SET lock_timeout = '10s'")  # a leaked transaction fails, not hangs
            cur.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        admin.close()


@pytest.fixture
def pg_url() -> str:
    """The PostgreSQL test URL (its default schema; prefer `new_pg_schema` to write)."""
    return require_pg()


@pytest.fixture
def new_pg_schema():
    """`fresh_pg_schema`, as a fixture: `with new_pg_schema() as url: ...`."""
    return fresh_pg_schema


@pytest.fixture(params=["sqlite", pytest.param("pg", marks=pytest.mark.pg)])
def db_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:
    """The URL of a new, empty database: a SQLite file, then a PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'warung.db'}"
    else:
        with fresh_pg_schema() as url:
            yield url


@pytest.fixture
def database(db_url: str) -> Iterator[pw.Database]:
    """The database at `db_url`, migrated to the latest schema, with the models bound to it."""
    db = connect(db_url)
    migrate(db)
    yield db
    disconnect(db)


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A demo shop on SQLite shared by one module's tests (a real server process)."""
    with Servers(tmp_path_factory.mktemp("shop")) as started:
        yield started.start()


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[Servers]:
    """`servers.start(*options, db_url=None)` starts a demo shop of the test's own (on a new
    SQLite file unless `db_url` is given); every one started is stopped after the test."""
    with Servers(tmp_path) as started:
        yield started


@pytest.fixture
def fresh_shop(servers: Servers) -> ServerProcess:
    """A demo shop of the test's own, for tests that kill or restart it or need exact numbers."""
    return servers.start()
