"""The server's end of the SQLite writer: who hears that a dead writer is back (issue 14,
item 11), and how the jobs of a reactor turn go down the pipe (issue 19). The reactor is a
`task.Clock` that records the writers it is asked to spawn; the test plays their part."""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.error import ProcessTerminated
from twisted.internet.task import Clock
from twisted.python.failure import Failure

from protocol.codec import unpackb_own
from protocol.errors import Unavailable
from protocol.framing import FrameDecoder
from server.write_jobs import PIPE_MAX_FRAME
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


class Stdin:
    """The writer's stdin as the link sees it: what was written, and whether it closed."""

    def __init__(self) -> None:
        self.written: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def closeStdin(self) -> None:
        self.closed = True

    def signalProcess(self, signal: str) -> None:
        pass


def ready_link() -> tuple[Reactor, WriterLink, _Pipe, Stdin]:
    reactor = Reactor()
    link = WriterLink(reactor, "sqlite:///unused.db")
    link.start()
    (pipe,) = reactor.spawned
    stdin = Stdin()
    pipe.transport = stdin  # type: ignore[assignment]  # the part of a process the link uses
    link.received(pipe, {"ready": 1})
    return reactor, link, pipe, stdin


def sent_jobs(stdin: Stdin) -> list[list[list[Any]]]:
    """The job lists of the frames written to `stdin`, frame by frame."""
    decoder = FrameDecoder(PIPE_MAX_FRAME, unpack=unpackb_own)
    return [event.body["jobs"] for event in decoder.feed(b"".join(stdin.written))]


def test_the_jobs_of_one_turn_go_in_one_frame_after_it() -> None:
    reactor, link, _, stdin = ready_link()
    link.submit("m:a", (1,))
    link.submit("m:b", (2, "x"))
    assert stdin.written == [], "nothing is written during the turn"
    reactor.advance(0)
    assert sent_jobs(stdin) == [[[1, "m:a", [1]], [2, "m:b", [2, "x"]]]]
    link.submit("m:c", ())
    reactor.advance(0)
    assert sent_jobs(stdin)[1:] == [[[3, "m:c", []]]], "the next turn's job, in a frame of its own"


def test_a_job_waiting_for_its_turn_fails_with_a_writer_that_dies_and_is_never_sent() -> None:
    reactor, link, pipe, stdin = ready_link()
    failures: list[Failure] = []
    link.submit("m:a", ()).addErrback(failures.append)
    link.ended(pipe, Failure(ProcessTerminated(signal=9)))
    assert isinstance(failures[0].value, Unavailable)
    reactor.advance(RESTART_S)
    (_, second) = reactor.spawned
    restarted = Stdin()
    second.transport = restarted  # type: ignore[assignment]
    link.received(second, {"ready": 2})
    reactor.advance(0)
    assert stdin.written == [] and restarted.written == [], "a failed job is not run later"


def test_stopping_sends_the_waiting_jobs_before_closing_stdin() -> None:
    _, link, _, stdin = ready_link()
    link.submit("m:a", ())
    link.stop()
    assert sent_jobs(stdin) == [[[1, "m:a", []]]]
    assert stdin.closed
