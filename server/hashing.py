"""Password hashing on a small pool of threads of its own, with a bounded wait.

argon2id is slow and memory-hard on purpose (tens of ms and 19 MiB a hash). On the reader
pool a flood of sign-ups or sign-ins kept every read waiting behind it; here hashes wait
only for each other. argon2-cffi releases the GIL while it hashes, so `threads` (one per
CPU) hashes really run at once, and at most `queue` more wait. Past that the request is
answered `unavailable` at once instead of waiting without bound.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from twisted.internet.defer import Deferred
from twisted.internet.threads import deferToThreadPool
from twisted.python.threadpool import ThreadPool

from protocol.errors import Unavailable

T = TypeVar("T")
BUSY_RETRY_AFTER_MS = 1000


class Hashing(Protocol):
    """What the services need of the pool: run a hash or a check off the reactor."""

    def run(self, work: Callable[..., T], *args: Any) -> Deferred[T]: ...


class HashingPool:
    """`threads` threads that run password hashes; `run` refuses work past `queue` waiting."""

    def __init__(self, reactor: Any, threads: int, queue: int) -> None:
        self.reactor = reactor
        self.capacity = threads + queue
        self.pending = 0  # running or waiting
        self._pool = ThreadPool(threads, threads, name="warung-hash")

    def start(self) -> None:
        self._pool.start()

    def stop(self) -> None:
        self._pool.stop()

    def run(self, work: Callable[..., T], *args: Any) -> Deferred[T]:
        """`work(*args)` on a hashing thread; raises `Unavailable` at once when full."""
        if self.pending >= self.capacity:
            raise Unavailable(
                "the server is busy checking passwords: try again shortly",
                {"reason": "hashing_busy", "retry_after_ms": BUSY_RETRY_AFTER_MS},
            )
        self.pending += 1
        d = deferToThreadPool(self.reactor, self._pool, work, *args)
        return d.addBoth(self._done)

    def _done(self, outcome: T) -> T:
        self.pending -= 1
        return outcome
