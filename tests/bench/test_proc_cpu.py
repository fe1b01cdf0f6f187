"""The /proc readings the bench's PostgreSQL rows use to say where the limit is: the
machine's busy share and the database's CPU, the exited backends' included."""

from __future__ import annotations

import os
import time
from pathlib import Path

import psycopg2
import pytest

from bench.proc_cpu import busy_ticks, machine_usage, postgres_cpu_s, postgres_ticks

HEAVY = "SELECT count(*) FROM generate_series(1, 3000000)"


def stat_fields(ppid: int, utime: int, stime: int, cutime: int = 0, cstime: int = 0) -> list[str]:
    """The fields of a /proc/PID/stat line after the command name, as `processes` gives."""
    fields = ["S", str(ppid), *["0"] * 9, str(utime), str(stime), str(cutime), str(cstime)]
    return fields + ["0"] * 30


def test_busy_ticks_leave_out_idle_and_waiting() -> None:
    # user nice system idle iowait irq softirq steal guest guest_nice
    assert busy_ticks("cpu  100 2 30 90000 400 5 6 7 50 0") == 100 + 2 + 30 + 5 + 6 + 7


def test_postgres_ticks_add_the_postmasters_collected_children_once() -> None:
    found = {
        "10": stat_fields(ppid=1, utime=3, stime=4, cutime=500, cstime=60),  # the postmaster
        "11": stat_fields(ppid=10, utime=20, stime=5, cutime=999, cstime=999),  # a backend
    }
    assert postgres_ticks(found) == (3 + 4) + (20 + 5) + (500 + 60)


def test_a_busy_core_shows_in_the_machines_share() -> None:
    with machine_usage() as used:
        began = time.process_time()
        while time.process_time() - began < 0.5:
            pass
    cores = os.cpu_count() or 1
    assert 0.8 / cores <= used.busy <= 1.05, used


def reaped(pid: int, timeout: float = 30.0) -> None:
    """Wait until process `pid` is gone from /proc: exited and collected by its parent."""
    deadline = time.monotonic() + timeout
    while Path(f"/proc/{pid}").exists():
        assert time.monotonic() < deadline, f"backend {pid} still there"
        time.sleep(0.01)


@pytest.mark.pg
def test_the_databases_cpu_counts_a_backend_that_has_exited(pg_url: str) -> None:
    if postgres_cpu_s() is None:
        pytest.skip("the PostgreSQL under test does not run on this machine")
    with machine_usage() as used:
        conn = psycopg2.connect(pg_url)
        backend = conn.get_backend_pid()
        with conn.cursor() as cursor:
            cursor.execute(HEAVY)
            assert cursor.fetchone() == (3000000,)
        conn.close()
        reaped(backend)  # so only the postmaster's collected times can hold its CPU
    assert used.postgres_s is not None and used.postgres_s >= 0.05, used
