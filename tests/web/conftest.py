from collections.abc import Generator, Iterator
from pathlib import Path

import pytest

from tests.e2e.harness import ServerProcess, Servers
from tests.web.browser import FAILED, system_browser
from tests.web.webproc import WebProcess


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with Servers(tmp_path_factory.mktemp("web-shop")) as started:
        yield started.start()


@pytest.fixture(scope="module")
def web(shop: ServerProcess) -> Iterator[WebProcess]:
    system_browser()  # skip (or fail under CI=true) before starting anything
    served = WebProcess(shop.port)
    yield served
    served.stop()


@pytest.fixture(scope="session")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the tests save their screenshots (look at them after a change of the look)."""
    return tmp_path_factory.mktemp("web-screenshots")


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Note a test whose body failed, so its browser fixture saves what the page showed."""
    report = yield
    if report.when == "call":
        item.stash[FAILED] = report.failed
    return report
