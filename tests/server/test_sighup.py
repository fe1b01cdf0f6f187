"""SIGHUP runs the server's reload actions on the reactor's thread, keeps calling the handler
that was there before, and gives SIGHUP back when the server stops."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Iterator
from types import FrameType

import pytest

from server.sighup import Reloads
from tests.e2e.harness import wait_until


class CallsFromThread:
    """The one reactor method `Reloads` uses: calls are held until `run_all`."""

    def __init__(self) -> None:
        self.pending: list[Callable[[], object]] = []

    def callFromThread(self, call: Callable[[], object]) -> None:
        self.pending.append(call)

    def run_all(self) -> None:
        while self.pending:
            self.pending.pop(0)()


@pytest.fixture
def before() -> Iterator[list[int]]:
    """A SIGHUP handler installed before the server's (a log module's, say)."""
    seen: list[int] = []

    def previous(signum: int, frame: FrameType | None) -> None:
        seen.append(signum)

    original = signal.signal(signal.SIGHUP, previous)
    yield seen
    signal.signal(signal.SIGHUP, original)


def test_sighup_runs_every_action_on_the_reactor_and_the_previous_handler(
    before: list[int],
) -> None:
    reactor = CallsFromThread()
    reloads = Reloads(reactor)
    done: list[str] = []

    def broken() -> None:
        raise OSError("the first action fails")

    reloads.actions += [broken, lambda: done.append("second")]
    reloads.install()
    try:
        os.kill(os.getpid(), signal.SIGHUP)
        wait_until(lambda: reactor.pending, what="the reload queued for the reactor")
        assert before == [signal.SIGHUP] and done == []  # nothing ran in the handler itself
        reactor.run_all()
        assert done == ["second"]  # one failing action does not stop the others
    finally:
        reloads.uninstall()
    os.kill(os.getpid(), signal.SIGHUP)
    wait_until(lambda: len(before) == 2, what="the previous handler back")
    assert not reactor.pending  # uninstalled: the server's handler queued nothing
