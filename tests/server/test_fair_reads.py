"""Reads run a few at a time, taken from each connection in turn (`server.fair_reads`)."""

from typing import Any

from twisted.internet.defer import Deferred

from protocol.envelope import Request
from server.dispatch import Dispatcher
from server.fair_reads import FairReads, reading_for


class Threads:
    """Reader threads held by the test: each started read waits until `finish` runs it."""

    def __init__(self) -> None:
        self.started: list[tuple[Any, Deferred[Any]]] = []

    def start(self, work: Any) -> Deferred[Any]:
        done: Deferred[Any] = Deferred()
        self.started.append((work, done))
        return done

    def finish(self) -> None:
        work, done = self.started.pop(0)
        try:
            done.callback(work())
        except Exception as error:
            done.errback(error)


def read_as(reads: FairReads, key: object, name: str) -> Deferred[Any]:
    token = reading_for.set(key)
    try:
        return reads.submit(lambda: name)
    finally:
        reading_for.reset(token)


def test_a_connection_that_asks_once_at_a_time_goes_before_the_pipelines():
    threads = Threads()
    reads = FairReads(2, threads.start)
    answered: list[str] = []
    for n in range(10):
        read_as(reads, "hoarder", f"hoarder {n}").addCallback(answered.append)
    read_as(reads, "shopper", "shopper").addCallback(answered.append)
    read_as(reads, None, "the server's own").addCallback(answered.append)
    assert len(threads.started) == 2  # no more run at once than there are slots
    for _ in range(6):
        threads.finish()  # each finished read lets the next one start
    # The hoarder's second read started at once (the backlog's turn when nothing else
    # waited); then every fourth read is the backlog's, the others go to connections that
    # had nothing waiting or running.
    assert answered == [
        "hoarder 0", "hoarder 1", "shopper", "hoarder 2", "the server's own", "hoarder 3",
    ]  # fmt: skip
    while threads.started:
        threads.finish()
    assert answered[6:] == [f"hoarder {n}" for n in range(4, 10)]
    assert not reads.waiting and not reads.fresh and not reads.backlog and reads.running == 0


def test_reads_of_the_backlog_take_turns_and_move_while_fresh_ones_keep_coming():
    threads = Threads()
    reads = FairReads(1, threads.start)
    answered: list[str] = []
    for key in ("a", "b"):
        for n in range(3):
            read_as(reads, key, f"{key}{n}").addCallback(answered.append)
    for n in range(8):
        read_as(reads, f"client {n}", f"client {n}").addCallback(answered.append)
        threads.finish()
    assert answered == [
        "a0", "b0", "client 0", "a1", "client 1", "client 2", "client 3", "b1",
    ]  # fmt: skip


def test_a_failed_read_fails_its_own_deferred_and_frees_its_slot():
    threads = Threads()
    reads = FairReads(1, threads.start)

    def broken() -> str:
        raise ValueError("no such table")

    errors: list[Any] = []
    reads.submit(broken).addErrback(errors.append)
    after = reads.submit(lambda: "next")
    threads.finish()
    [error] = errors
    assert error.check(ValueError) and str(error.value) == "no such table"
    threads.finish()
    assert after.result == "next"


def test_the_dispatcher_names_the_connection_for_the_reads_of_an_async_handler():
    """Across the handler's awaits too: Twisted runs a coroutine in the context it began in."""
    seen: list[object] = []
    later: Deferred[None] = Deferred()

    async def handler(call: Any) -> dict[str, Any]:
        seen.append(reading_for.get())
        await later
        seen.append(reading_for.get())
        return {}

    peer: Any = Peer()
    answer = Dispatcher({"ping": handler}).dispatch(Request(1, "ping", {}), peer)
    assert reading_for.get() is None  # set only while the handler runs
    later.callback(None)
    assert isinstance(answer, Deferred) and answer.result == {} and seen == [peer, peer]


class Peer:
    address = "127.0.0.1"
    client_name = "t"
    identity = None
    closing = False
