"""Clients at a set pace: each begins an iteration at fixed times, whatever the last took.

A closed loop (`bench.loops.ClosedLoop`) keeps every client busy, so its latency is the queue
it builds: p50 is about clients / rate, whatever the server does. Paced clients offer a
rate of the bench's choosing instead (a shop's customers do not check out back to back),
and an iteration's latency runs from the time it was due, so a server that falls behind is
charged for the wait it caused (no coordinated omission).
"""

from __future__ import annotations

import asyncio
import time

from bench.lean_client import LeanClient, Step
from bench.loops import ClosedLoop, Result, no_gc_pauses


class PacedLoop(ClosedLoop):
    """`ClosedLoop`, but an iteration begins at its due time: `interval` after the last one
    was due (at once if that time has passed)."""

    __slots__ = ("due", "interval")

    def __init__(
        self,
        client: LeanClient,
        index: int,
        steps: list[Step],
        result: Result,
        deadline: float,
        interval: float,
        first: float,
    ) -> None:
        super().__init__(client, index, steps, result, deadline)
        self.interval, self.due = interval, first - interval

    def begin(self) -> None:
        self.due += self.interval
        wait = self.due - time.perf_counter()
        if self.due >= self.deadline:
            self.finish()
        elif wait > 0:
            asyncio.get_running_loop().call_later(wait, self._go)
        else:
            self._go()

    def _go(self) -> None:
        super().begin()
        self.began = min(self.began, self.due)


async def run_paced(
    name: str, clients: list[LeanClient], steps: list[Step], duration: float, rate: float
) -> Result:
    """Every client for `duration` seconds, the iterations of all together due at `rate`
    a second, spread evenly over the clients and in time."""
    result = Result(name)
    interval = len(clients) / rate
    with no_gc_pauses():  # its collection first, before the clock starts
        began = time.perf_counter()
        deadline = began + duration
        loops = [
            PacedLoop(c, i, steps, result, deadline, interval, began + i * interval / len(clients))
            for i, c in enumerate(clients)
        ]
        await asyncio.gather(*(loop.start() for loop in loops))
    result.seconds = time.perf_counter() - began
    return result
