"""The server's end of the SQLite writer: who hears that a dead writer is back (issue 14,
item 11). The reactor is a `task.Clock` that records the writers it is asked to spawn; the
test plays their part."""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.error import ProcessTerminated
from twisted.internet.task import Clock
from twisted.python.failure import Failure

from protocol.errors import Unavailable
from server.writer_link import RESTART_S, WriterLink, _Pipe


class Reactor(Clock):
    """A clock that spawns no process, only keeps each writer's pipe."""

    def __init__(self) -> None:
        super().__init__()
        self.spawned: list[_Pipe] = []

    def spawnProcess(self, pipe: _Pipe, *args: Any, **kwargs: Any) -> None:
        self.spawned.append(pipe)


def test_a_writer_back_after_dying_reports_when_it_died() -> None:
    reactor = Reactor()
    link = WriterLink(reactor, "sqlite:///unused.db")
    heard: list[float] = []
    link.restarted.append(heard.append)
    link.start()
    (first,) = reactor.spawned
    link.received(first, {"ready": 1})
    assert heard == [], "a first start is no restart"

    held: Deferred[Any] = Deferred()
    link._sent[7] = held  # a job the writer holds when it dies
    failures: list[Failure] = []
    held.addErrback(failures.append)
    reactor.advance(42)
    link.ended(first, Failure(ProcessTerminated(signal=9)))
    assert isinstance(failures[0].value, Unavailable), "its outcome is lost"
    reactor.advance(RESTART_S)
    (_, second) = reactor.spawned
    assert heard == [], "not before the new writer is ready"

    link.received(second, {"ready": 2})
    assert heard == [42.0]
    link.ended(second, Failure(ProcessTerminated(signal=9)))  # dies again at once, at 42.5
    reactor.advance(RESTART_S)
    link.received(reactor.spawned[2], {"ready": 3})
    assert heard == [42.0, 42.0 + RESTART_S], "once per death"
