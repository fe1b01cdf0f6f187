"""Reads go out a few at a time, taken from each connection in turn (`server.fair_reads`)."""

from functools import partial
from typing import Any

from twisted.internet.defer import Deferred, succeed

from protocol.envelope import Request
from protocol.errors import Unavailable
from server.dispatch import Dispatcher
from server.fair_reads import FairReads
from server.serving import for_this_connection, serving


class Threads:
    """Reader threads held by the test: each read sent out waits until `finish` runs it."""

    def __init__(self) -> None:
        self.started: list[tuple[Any, Deferred[Any]]] = []

    def run(self, work: Any) -> Any:
        """What a FairReads submits: a start that hands `work` to a held thread."""

        def start() -> Deferred[Any]:
            done: Deferred[Any] = Deferred()
            self.started.append((work, done))
            return done

        return start

    def finish(self) -> None:
        work, done = self.started.pop(0)
        try:
            done.callback(work())
        except Exception as error:
            done.errback(error)


def read_as(turns: FairReads, threads: Threads, key: object, name: str) -> Deferred[Any]:
    token = serving.set(key)
    try:
        return turns.submit(threads.run(lambda: name))
    finally:
        serving.reset(token)


def test_a_connection_that_asks_once_at_a_time_goes_before_the_pipelines():
    threads = Threads()
    reads = FairReads(2)
    answered: list[str] = []
    for n in range(10):
        read_as(reads, threads, "hoarder", f"hoarder {n}").addCallback(answered.append)
    read_as(reads, threads, "shopper", "shopper").addCallback(answered.append)
    read_as(reads, threads, None, "the server's own").addCallback(answered.append)
    assert len(threads.started) == 2  # no more run at once than there are slots
    for _ in range(6):
        threads.finish()  # each finished read lets the next one start
    # The hoarder's first two went out at once (nothing waited); then the two that had
    # nothing waiting or out go before its backlog, which gets every fourth turn.
    assert answered == [
        "hoarder 0", "hoarder 1", "shopper", "the server's own", "hoarder 2", "hoarder 3",
    ]  # fmt: skip
    while threads.started:
        threads.finish()
    assert answered[6:] == [f"hoarder {n}" for n in range(4, 10)]
    assert (
        not reads.waiting
        and not reads.fresh
        and not reads.backlog
        and reads.out == 0
        and reads.queued == 0
    )


def test_reads_of_the_backlog_take_turns_and_move_while_fresh_ones_keep_coming():
    threads = Threads()
    reads = FairReads(1)
    answered: list[str] = []
    for key in ("a", "b"):
        for n in range(3):
            read_as(reads, threads, key, f"{key}{n}").addCallback(answered.append)
    for n in range(8):
        read_as(reads, threads, f"client {n}", f"client {n}").addCallback(answered.append)
        threads.finish()
    assert answered == [
        "a0", "b0", "client 0", "client 1", "a1", "client 2", "client 3", "client 4",
    ]  # fmt: skip


def test_a_failed_read_fails_its_own_deferred_and_frees_its_slot():
    threads = Threads()
    reads = FairReads(1)

    def broken() -> str:
        raise ValueError("no such table")

    errors: list[Any] = []
    reads.submit(threads.run(broken)).addErrback(errors.append)
    after = reads.submit(threads.run(lambda: "next"))
    threads.finish()
    [error] = errors
    assert error.check(ValueError) and str(error.value) == "no such table"
    threads.finish()
    assert after.result == "next"


def test_reads_that_end_at_once_send_the_rest_out_without_recursion():
    """Reads whose Deferred has fired when `start` returns (a pool that refuses them): the
    thousands waiting behind a full set of slots each end in their turn, in order, from one
    loop."""
    turns = FairReads(1)
    held = Threads()
    first = turns.submit(held.run(lambda: "first"))
    answered: list[Any] = []
    for n in range(5000):
        turns.submit(partial(succeed, n)).addCallback(answered.append)
    held.finish()
    assert first.result == "first" and answered == list(range(5000))
    assert turns.out == 0 and turns.queued == 0 and not turns.busy


def test_a_start_that_raises_fails_its_own_deferred_and_frees_its_slot():
    turns = FairReads(1)

    def broken() -> Deferred[Any]:
        raise RuntimeError("the pool is stopped")

    errors: list[Any] = []
    turns.submit(broken).addErrback(errors.append)
    assert turns.submit(lambda: succeed("next")).result == "next"
    [error] = errors
    assert error.check(RuntimeError)


def test_the_reads_still_waiting_of_a_closed_connection_fail_without_running():
    threads = Threads()
    reads = FairReads(1)
    hoarder, shopper = Peer(), Peer()
    read_as(reads, threads, "first", "first")
    errors: list[Any] = []
    for n in range(3):
        read_as(reads, threads, hoarder, f"hoarder {n}").addErrback(errors.append)
    answered = read_as(reads, threads, shopper, "shopper")
    hoarder.closing = True  # reset while its reads waited
    threads.finish()  # "first": the hoarder's turn comes next
    assert len(errors) == 3 and all(error.check(Unavailable) for error in errors)
    assert [work() for work, _ in threads.started] == ["shopper"]  # none of the hoarder's ran
    threads.finish()
    assert answered.result == "shopper" and reads.queued == 0 and not reads.waiting


def test_the_dispatcher_names_the_connection_for_the_reads_of_an_async_handler():
    """Across the handler's awaits too: Twisted runs a coroutine in the context it began in."""
    seen: list[object] = []
    later: Deferred[None] = Deferred()

    async def handler(call: Any) -> dict[str, Any]:
        seen.append(serving.get())
        await later
        seen.append(serving.get())
        return {}

    peer: Any = Peer()
    answer = Dispatcher({"ping": handler}).dispatch(Request(1, "ping", {}), peer)
    assert serving.get() is None  # set only while the handler runs
    later.callback(None)
    assert isinstance(answer, Deferred) and answer.result == {} and seen == [peer, peer]


class Peer:
    address = "127.0.0.1"
    client_name = "t"
    identity = None

    def __init__(self) -> None:
        self.closing = False


def test_a_callback_made_for_this_connection_runs_as_its_own_later():
    """A Deferred's callback runs in the context of whatever fires it: made with
    `for_this_connection`, it sees the connection it was made for."""
    fired: Deferred[None] = Deferred()
    seen: list[object] = []
    token = serving.set("connection A")
    try:
        fired.addCallback(for_this_connection(lambda _: seen.append(serving.get())))
        fired.addCallback(lambda _: seen.append(serving.get()))  # a plain one
    finally:
        serving.reset(token)
    fired.callback(None)  # fired outside any connection's request
    assert seen == ["connection A", None]
