"""`python -m bench --quick` runs end to end: every server and floor starts, every section
runs, and it writes well-formed JSON and a PNG. No timing is checked (the numbers of a quick
run mean nothing); what is checked could fail: the table's rows, the flash sale's exact
counts, the memory readings."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from bench.proc_cpu import postgres_cpu_s

ROOT = Path(__file__).resolve().parents[2]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def run_bench(args: list[str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """`python -m bench ARGS`, which must succeed."""
    done = subprocess.run(
        [sys.executable, "-m", "bench", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done


@pytest.mark.pg
def test_quick_run_writes_the_table_json_and_chart(tmp_path: Path, pg_url: str) -> None:
    done = run_bench(["--quick", "--pg", pg_url, "--out", str(tmp_path)], timeout=280)
    assert "server CPU per checkout" in done.stdout
    document = json.loads((tmp_path / "bench.json").read_text())
    assert (tmp_path / "bench.png").read_bytes().startswith(PNG_MAGIC)

    rows = {(row["metric"], row["where"]): row for row in document["rows"]}
    for where in ("one server (SQLite)", "two servers (PostgreSQL)"):
        assert ("fan-out p99, 50 subscribers", where) in rows
    assert ("server CPU per POS sale", "one server (SQLite)") in rows
    assert ("checkouts/s, two servers / one", "PostgreSQL") in rows
    assert ("checkout p50, 10 paced clients", "one server (PostgreSQL)") in rows
    for where in ("one server (PostgreSQL)", "two servers (PostgreSQL)"):
        assert 0 < rows[("machine busy (no target)", where)]["warung"] <= 105
        local = postgres_cpu_s() is not None  # else its CPU cannot be read here
        assert (("database CPU per checkout (no target)", where) in rows) == local
    for row in document["rows"]:
        assert math.isfinite(row["warung"]) and row["warung"] > 0, row
        assert math.isfinite(row["floor"]) and row["floor"] > 0, row
        assert row["met"] in (True, False, None), row

    sales = document["flash_sale"]
    assert [sale["where"] for sale in sales] == ["one server (SQLite)", "two servers (PostgreSQL)"]
    for sale in sales:
        assert sale["paid"] == sale["units"], sale
        assert sale["out_of_stock"] == sale["customers"] - sale["units"], sale
        assert sale["watchers_sold_out"] == sale["customers"], sale
        assert sale["server_cpu_s"] > 0, sale

    memory = document["memory"]
    assert memory["connections"] == document["raw"]["config"]["memory_connections"]
    assert memory["kib_per_subscribed_connection"]["rss"] > 0
    assert document["machine_at_start"]["cores"] >= 1


@pytest.mark.pg
def test_only_pg_prints_the_postgresql_rows_and_writes_nothing(tmp_path: Path, pg_url: str) -> None:
    only_pg = ["--quick", "--only", "pg", "--pg", pg_url, "--out", str(tmp_path)]
    done = run_bench(only_pg)
    assert "checkouts/s, two servers / one" in done.stdout
    assert "pg_two_per_s" in done.stdout and "pg_paced_p50_ms" in done.stdout, "each round's"
    assert "fan-out" not in done.stdout and "SQLite" not in done.stdout
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("section", "shown", "absent"),
    [
        ("sqlite", ["server CPU per checkout", "sqlite_floor_us"], ["PostgreSQL", "flash sale"]),
        ("flash", ["flash sale, one server (SQLite)"], ["PostgreSQL", "server CPU"]),
    ],
)
def test_only_a_section_prints_its_rows_alone(
    section: str, shown: list[str], absent: list[str]
) -> None:
    done = run_bench(["--quick", "--no-pg", "--only", section])
    for text in shown:
        assert text in done.stdout
    for text in absent:
        assert text not in done.stdout
