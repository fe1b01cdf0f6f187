"""Fixtures for the server's in-process tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from twisted.logger import LogEvent, globalLogPublisher


@pytest.fixture
def logged() -> Iterator[list[LogEvent]]:
    """Every event logged through twisted.logger while the test runs."""
    events: list[LogEvent] = []
    globalLogPublisher.addObserver(events.append)
    yield events
    globalLogPublisher.removeObserver(events.append)
