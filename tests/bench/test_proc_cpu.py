"""The /proc readings the bench's PostgreSQL rows use to say where the limit is: the
machine's busy share and the database's CPU, the exited backends' included."""

from __future__ import annotations

import os
import time

import psycopg2  # type: ignore[import-untyped]
import pytest

from bench.proc_cpu import machine_usage, postgres_cpu_s

HEAVY = "SELECT count(*) FROM generate_series(1, 3000000)"


def spin(seconds: float) -> None:
    began = time.process_time()
    while time.process_time() - began < seconds:
        pass


def test_a_busy_core_shows_in_the_machines_share() -> None:
    with machine_usage() as used:
        spin(0.5)
    cores = os.cpu_count() or 1
    assert 0.8 / cores <= used.busy <= 1.0 + 0.05, used


@pytest.mark.pg
def test_the_databases_cpu_counts_a_backend_that_has_exited(pg_url: str) -> None:
    assert postgres_cpu_s() is not None, "the PostgreSQL under test runs on this machine"
    with machine_usage() as used:
        conn = psycopg2.connect(pg_url)
        with conn.cursor() as cursor:
            cursor.execute(HEAVY)
            assert cursor.fetchone() == (3000000,)
        conn.close()
    assert used.postgres_s >= 0.05, used
