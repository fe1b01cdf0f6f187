"""The closed loop of the load generator: every client asks again as soon as it is answered,
for a given time; the run's count, latencies and CPU (the generator's and the server's)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from bench.lean_client import Answer, LeanClient, Step
from bench.proc_cpu import server_cpu_s
from bench.stats import percentile_ms


@dataclass
class Result:
    name: str
    count: int = 0
    errors: int = 0
    requests: int = 0
    seconds: float = 0.0
    cpu: float = 0.0
    server_cpu: float | None = None
    latencies: list[float] = field(default_factory=list)

    def line(self) -> str:
        lat = self.latencies or [0.0]
        p50, p99 = percentile_ms(lat, 0.5), percentile_ms(lat, 0.99)
        rate = self.count / self.seconds if self.seconds else 0
        per_request = 1e6 / self.requests if self.requests else 0
        server = "" if self.server_cpu is None else f", server {self.server_cpu * per_request:5.1f}"
        return (
            f"{self.name:<28} {rate:>10,.0f}/s   p50 {p50:6.2f} ms   p99 {p99:7.2f} ms"
            f"   ({self.count} ok, {self.errors} errors)"
            f"   µs CPU/req: generator {self.cpu * per_request:5.1f}{server}"
        )


class ClosedLoop:
    """Runs one client through a scenario's steps until the deadline, from its callbacks.

    An iteration is every step in turn; its latency runs from the first request sent to the
    last answer. `out_of_stock` counts as an error and starts the next iteration.
    """

    __slots__ = ("began", "client", "deadline", "done", "index", "result", "step", "steps")

    def __init__(
        self, client: LeanClient, index: int, steps: list[Step], result: Result, deadline: float
    ) -> None:
        self.client, self.index, self.steps = client, index, steps
        self.result, self.deadline = result, deadline
        self.step, self.began = 0, 0.0
        self.done: asyncio.Future[None] | None = None

    def start(self) -> asyncio.Future[None]:
        self.done = self.client.expect()
        self.client.on_answer = self.answer
        self.begin()
        return self.done

    def begin(self) -> None:
        now = time.perf_counter()
        if now >= self.deadline:
            self.finish()
            return
        self.step, self.began = 0, now
        self.client.send(*self.steps[0](self.index))

    def finish(self) -> None:
        if self.done is not None and not self.done.done():
            self.done.set_result(None)

    def answer(self, ok: bool, body: Answer) -> None:
        result = self.result
        result.requests += 1
        if not ok:
            result.errors += 1
        elif self.step + 1 < len(self.steps):
            self.step += 1
            self.client.send(*self.steps[self.step](self.index))
            return
        else:
            result.latencies.append(time.perf_counter() - self.began)
            result.count += 1
        self.begin()


@contextlib.contextmanager
def no_gc_pauses() -> Iterator[None]:
    """No cyclic garbage collection in this process, the clients', meanwhile (as `timeit`
    times): a full collection over thousands of clients took 30-110 ms here, and an answer
    or push waiting for it would be timed as the server's."""
    gc.collect()
    gc.freeze()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.unfreeze()


async def run(
    name: str, clients: list[LeanClient], steps: list[Step], duration: float, server: int | None
) -> Result:
    """Every client in a closed loop for `duration` seconds; also the CPU time used by the
    generator and by the server (process id `server`) meanwhile."""
    result = Result(name)
    with no_gc_pauses():  # its collection first, before the clocks start
        server_began = server_cpu_s(server)
        cpu, began = time.process_time(), time.perf_counter()
        deadline = began + duration
        loops = [ClosedLoop(c, i, steps, result, deadline) for i, c in enumerate(clients)]
        await asyncio.gather(*(loop.start() for loop in loops))
    result.seconds = time.perf_counter() - began
    result.cpu = time.process_time() - cpu
    server_ended = server_cpu_s(server)
    if server_began is not None and server_ended is not None:
        result.server_cpu = server_ended - server_began
    return result
