"""The load generator's own machinery, without a server: the paced loop (`bench.paced`) and
the pause it keeps out of its timings (`bench.loops.no_gc_pauses`)."""

from __future__ import annotations

import asyncio
import gc
from typing import Any

from bench.lean_client import LeanClient
from bench.loops import Result, no_gc_pauses
from bench.paced import run_paced


class AnsweringClient(LeanClient):
    """Answers every request itself, on the next turn of the loop."""

    def send(self, op: str, args: dict[str, Any]) -> None:
        self.request_id += 1
        asyncio.get_running_loop().call_soon(self.on_answer, True, {"id": self.request_id})


def ping(i: int) -> tuple[str, dict[str, Any]]:
    return "ping", {}


def paced(clients: int, duration: float, rate: float) -> Result:
    pool: list[LeanClient] = [AnsweringClient() for _ in range(clients)]
    return asyncio.run(run_paced("paced", pool, [ping], duration, rate))


def test_a_paced_client_begins_no_iteration_due_after_the_deadline():
    """Due at 0, 50, 100, 150 and 200 ms of a 230 ms run: five at most (a late timer on a
    busy machine may drop one past the deadline, never add one)."""
    result = paced(clients=1, duration=0.23, rate=20)
    assert 1 <= result.count <= 5 and result.errors == 0
    assert all(latency >= 0 for latency in result.latencies)


def test_paced_clients_share_the_rate():
    """Four clients at 40/s share its due times: 10/s each, so at most 4 x 3 in 0.29 s."""
    result = paced(clients=4, duration=0.29, rate=40)
    assert 1 <= result.count <= 12


def test_no_collection_runs_while_the_generator_times():
    assert gc.isenabled()
    with no_gc_pauses():
        assert not gc.isenabled() and gc.get_freeze_count() > 0
    assert gc.isenabled() and gc.get_freeze_count() == 0
