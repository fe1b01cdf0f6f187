from collections.abc import Iterator

import pytest

from tests.conftest import fresh_pg_schema
from tests.e2e.harness import ServerProcess, Servers


@pytest.fixture
def pg_schema_url() -> Iterator[str]:
    """A URL of a new, empty PostgreSQL schema, dropped after the test."""
    with fresh_pg_schema("e2e") as url:
        yield url


@pytest.fixture(scope="module")
def slow_shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """Payments take 0.5 s, long enough to cut a checkout in the middle."""
    with Servers(tmp_path_factory.mktemp("slow")) as started:
        yield started.start("--payment-delay", "0.5")
