from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import fresh_pg_schema
from tests.e2e.harness import ServerProcess


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A demo shop on SQLite, shared by the tests of one module."""
    path: Path = tmp_path_factory.mktemp("shop") / "shop.db"
    server = ServerProcess(f"sqlite:///{path}").start()
    yield server
    server.stop()


@pytest.fixture
def fresh_shop(tmp_path: Path) -> Iterator[ServerProcess]:
    """A demo shop of the test's own, for tests that kill or restart it."""
    server = ServerProcess(f"sqlite:///{tmp_path / 'shop.db'}").start()
    yield server
    server.stop()


@pytest.fixture
def pg_schema_url() -> Iterator[str]:
    """A URL of a new, empty PostgreSQL schema, dropped after the test."""
    with fresh_pg_schema("e2e") as url:
        yield url


@pytest.fixture(scope="module")
def slow_shop(tmp_path_factory):
    """Payments take 0.5 s, long enough to cut a checkout in the middle."""
    path = tmp_path_factory.mktemp("slow") / "shop.db"
    server = ServerProcess(f"sqlite:///{path}", "--payment-delay", "0.5").start()
    yield server
    server.stop()
