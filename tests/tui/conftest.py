"""Fixtures of the terminal client's tests: real servers, and a home of the test's own.

Every test runs with its own XDG config and data dirs, so the app's remembered server,
kept session and demo shop never touch the user's files, nor another test's.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.harness import ServerProcess


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.delenv("NO_COLOR", raising=False)
    return tmp_path


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A demo shop shared by a module's tests: each test signs up a customer of its own
    and buys products no other test of the module touches."""
    server = ServerProcess(f"sqlite:///{tmp_path_factory.mktemp('shop') / 'shop.db'}").start()
    yield server
    server.stop()


@pytest.fixture
def fresh_shop(tmp_path: Path) -> Iterator[ServerProcess]:
    """A demo shop of the test's own, for tests that restart it or need exact numbers."""
    server = ServerProcess(f"sqlite:///{tmp_path / 'shop.db'}").start()
    yield server
    server.stop()
