"""A connection's writes reach the writer a few at a time (`server.write_slots`)."""

from typing import Any

from twisted.internet.defer import Deferred, fail

from protocol.errors import Unavailable
from server.serving import serving
from server.write_slots import WriteSlots


class Writer:
    """The writer, held by the test: each job sent waits until `finish` commits it."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, Deferred[Any]]] = []

    def job(self, name: str) -> Any:
        def start() -> Deferred[Any]:
            done: Deferred[Any] = Deferred()
            self.sent.append((name, done))
            return done

        return start

    def finish(self, name: str) -> None:
        index = [sent for sent, _ in self.sent].index(name)
        _, done = self.sent.pop(index)
        done.callback(name)

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self.sent]


def write_as(slots: WriteSlots, key: object, start: Any) -> Deferred[Any]:
    token = serving.set(key)
    try:
        return slots.submit(start)
    finally:
        serving.reset(token)


def test_a_flood_holds_its_own_writes_back_and_another_connections_go_at_once():
    writer, slots = Writer(), WriteSlots(2)
    committed: list[str] = []
    for n in range(5):
        write_as(slots, "flood", writer.job(f"flood {n}")).addCallback(committed.append)
    write_as(slots, "shopper", writer.job("shopper")).addCallback(committed.append)
    assert writer.names == ["flood 0", "flood 1", "shopper"]  # the other three wait here

    assert slots.held == 3
    writer.finish("shopper")
    writer.finish("flood 1")  # a slot frees: the flood's next goes, in the order sent
    assert writer.names == ["flood 0", "flood 2"]
    for name in ("flood 0", "flood 2", "flood 3", "flood 4"):
        writer.finish(name)
    assert committed == ["shopper", "flood 1", "flood 0", "flood 2", "flood 3", "flood 4"]
    assert slots.out == {} and slots.waiting == {}  # nothing left counted


def test_the_servers_own_writes_are_not_held():
    writer, slots = Writer(), WriteSlots(1)
    for n in range(3):
        write_as(slots, None, writer.job(f"own {n}"))
    assert writer.names == ["own 0", "own 1", "own 2"]
    assert slots.out == {}


def test_a_failed_write_frees_its_slot_and_its_submitter_hears_the_failure():
    writer, slots = Writer(), WriteSlots(1)
    failures: list[Any] = []

    def refused() -> Deferred[Any]:
        return fail(Unavailable("the database writer is restarting"))

    write_as(slots, "c", writer.job("first"))
    write_as(slots, "c", refused).addErrback(failures.append)
    write_as(slots, "c", writer.job("third"))
    assert writer.names == ["first"]
    writer.finish("first")  # the refused one goes, fails at once, and the third goes
    assert [f.check(Unavailable) for f in failures] == [Unavailable]
    assert writer.names == ["third"]
    writer.finish("third")
    assert slots.out == {} and slots.waiting == {}


def test_a_start_that_raises_fails_its_write_and_frees_the_slot():
    writer, slots = Writer(), WriteSlots(1)

    def broken() -> Deferred[Any]:
        raise RuntimeError("no pipe")

    failures: list[Any] = []
    write_as(slots, "c", broken).addErrback(failures.append)
    assert [f.check(RuntimeError) for f in failures] == [RuntimeError]
    write_as(slots, "c", writer.job("next"))
    assert writer.names == ["next"]


def test_writes_waiting_while_the_writer_restarts_all_fail_and_free_every_slot():
    """However many wait (a raised `max_in_flight` lets more than 64), writes that fail at
    once as their slot comes unwind in a loop, not by recursing once each."""
    writer, slots = Writer(), WriteSlots(4)
    for n in range(4):
        write_as(slots, "c", writer.job(f"running {n}"))
    failed: list[Any] = []
    for _ in range(5000):
        write_as(slots, "c", lambda: fail(Unavailable("down"))).addErrback(failed.append)
    assert slots.held == 5000
    for n in range(4):
        writer.finish(f"running {n}")
    assert len(failed) == 5000
    assert slots.out == {} and slots.waiting == {} and slots.held == 0
