"""Readiness alone, deterministic: a database read the test answers, Clock for time."""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.task import Clock

from server.health import Readiness
from server.metrics import connection_state


class Factory:
    draining = False


class Database:
    """The executor as readiness sees it: reads wait until the test answers them."""

    def __init__(self) -> None:
        self.writer_up = True
        self.reads: list[Deferred[None]] = []

    def read(self, work: Any) -> Deferred[None]:
        self.reads.append(Deferred())
        return self.reads[-1]


def answers(checks: list[Deferred[str | None]]) -> list[str | None]:
    found: list[str | None] = []
    for check in checks:
        check.addCallback(found.append)
    return found


def make() -> tuple[Readiness, Factory, Database, Clock]:
    factory, db, clock = Factory(), Database(), Clock()
    return Readiness(factory, db, clock, timeout_s=2), factory, db, clock


def test_checks_made_while_one_probe_is_in_flight_share_its_answer():
    readiness, _, db, _ = make()
    found = answers([readiness.check() for _ in range(3)])
    assert len(db.reads) == 1 and found == []
    db.reads[0].callback(None)
    assert found == [None, None, None] and readiness.ready == 1
    answers([readiness.check()])
    assert len(db.reads) == 2  # the next check probes afresh


def test_a_refresh_checks_in_the_background_for_the_ready_gauge():
    readiness, _, db, _ = make()
    assert readiness.ready == 0
    readiness.refresh()
    readiness.refresh()
    assert len(db.reads) == 1
    db.reads[0].callback(None)
    assert readiness.ready == 1


def test_a_database_that_hangs_is_not_probed_again_until_it_answers():
    readiness, _, db, clock = make()
    first = answers([readiness.check()])
    clock.advance(2)
    assert first == ["the database did not answer within 2 s"] and readiness.ready == 0
    later = answers([readiness.check()])
    assert len(db.reads) == 1  # still the one probe, hanging
    db.reads[0].errback(RuntimeError("connection refused"))
    assert later == ["the database does not answer: connection refused"]
    assert first == ["the database did not answer within 2 s"]  # answered once, not twice


def test_draining_or_a_writer_down_is_not_ready_without_asking_the_database():
    readiness, factory, db, _ = make()
    db.writer_up = False
    assert answers([readiness.check()]) == ["the database writer is down"]
    factory.draining = True
    assert answers([readiness.check()]) == ["draining: the server is stopping"]
    assert db.reads == [] and readiness.ready == 0


class Conn:
    def __init__(self, **state: Any) -> None:
        self.closing, self.paused, self.greeted, self.identity = False, False, True, None
        self.__dict__.update(state)


def test_each_connection_is_counted_in_one_state():
    assert connection_state(Conn(greeted=False), draining=False) == "handshaking"
    assert connection_state(Conn(), draining=False) == "anonymous"
    assert connection_state(Conn(identity=object()), draining=False) == "signed_in"
    assert connection_state(Conn(identity=object(), paused=True), draining=False) == "paused"
    assert connection_state(Conn(paused=True), draining=True) == "draining"
    assert connection_state(Conn(closing=True), draining=True) == "closing"
