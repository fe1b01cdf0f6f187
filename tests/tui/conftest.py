"""Fixtures of the terminal client's tests: real servers, and a home of the test's own.

Every test runs with its own XDG config and data dirs, so the app's remembered server,
kept session and demo shop never touch the user's files, nor another test's.

A test written `async def` runs on an event loop of its own (as `asyncio.run` would), so
the pilot's `async with app.run_test() as pilot:` sits in the test body itself.
"""

from __future__ import annotations

import asyncio
import inspect
from pathlib import Path

import pytest

from tests.e2e.harness import ServerProcess
from tests.tui.pilot import Account, new_customer


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    test = pyfuncitem.obj
    if not inspect.iscoroutinefunction(test):
        return None
    arguments = {name: pyfuncitem.funcargs[name] for name in inspect.signature(test).parameters}
    asyncio.run(test(**arguments))
    return True


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.delenv("NO_COLOR", raising=False)
    return tmp_path


@pytest.fixture
def customer(shop: ServerProcess) -> Account:
    """A customer of the test's own on the module's shop (their own cart and orders)."""
    return new_customer(shop)
