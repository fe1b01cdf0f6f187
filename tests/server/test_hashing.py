"""The hashing pool: at most `threads` hashes at once and `queue` waiting; past that, work is
refused at once (no thread touched, nothing queued), and a slot is free again once answered."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from twisted.internet.defer import Deferred

from db.passwords import hash_password, verify_password
from protocol.errors import ErrorCode, Unavailable
from server.hashing import HashingPool
from tests.e2e.harness import wait_until

THREADS, QUEUE = 2, 3


class ThreadReactor:
    """What `deferToThreadPool` needs of a reactor: results handed back to the test's thread,
    which runs them (as the reactor thread would) when it calls `deliver`."""

    def __init__(self) -> None:
        self.calls: queue.Queue[tuple[Callable[..., Any], tuple[Any, ...]]] = queue.Queue()

    def callFromThread(self, f: Callable[..., Any], *args: Any) -> None:
        self.calls.put((f, args))

    def deliver(self) -> None:
        f, args = self.calls.get(timeout=10)
        f(*args)


@pytest.fixture
def reactor() -> ThreadReactor:
    return ThreadReactor()


@pytest.fixture
def pool(reactor: ThreadReactor) -> Iterator[HashingPool]:
    hashing = HashingPool(reactor, THREADS, QUEUE)
    hashing.start()
    yield hashing
    hashing.stop()


def outcome(d: Deferred[Any]) -> Any:
    box: list[Any] = []
    d.addBoth(box.append)
    assert box, "not answered yet"
    return box[0]


def test_a_full_pool_refuses_at_once_and_takes_work_again_once_a_slot_frees(
    pool: HashingPool, reactor: ThreadReactor
) -> None:
    gate = threading.Event()
    started: list[int] = []

    def hold(n: int) -> int:
        started.append(n)
        gate.wait(10)
        return n

    held = [pool.run(hold, n) for n in range(THREADS + QUEUE)]
    wait_until(lambda: len(started) == THREADS, what="a hash on each thread")

    with pytest.raises(Unavailable) as full:
        pool.run(hold, 99)

    assert full.value.code == ErrorCode.UNAVAILABLE
    assert full.value.details == {"reason": "hashing_busy", "retry_after_ms": 1000}
    assert sorted(started) == [0, 1], "the rest wait for a thread; the refused never runs"
    gate.set()
    for _ in held:
        reactor.deliver()
    assert [outcome(d) for d in held] == list(range(THREADS + QUEUE))
    assert pool.pending == 0
    again = pool.run(hash_password, "kopi-susu-123")
    reactor.deliver()
    assert verify_password(outcome(again), "kopi-susu-123")
    assert 99 not in started


def test_a_failed_hash_frees_its_slot(pool: HashingPool, reactor: ThreadReactor) -> None:
    def broken() -> None:
        raise ValueError("broken")

    failures = [pool.run(broken) for _ in range(THREADS + QUEUE)]
    for _ in failures:
        reactor.deliver()
    assert all(outcome(d).check(ValueError) for d in failures)
    assert pool.pending == 0
