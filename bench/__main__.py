"""`python -m bench`: warung against its floors, every target of issue 19 in one run.

Starts its own servers (SQLite in a temp dir; PostgreSQL in a fresh schema at --pg), runs
each floor and warung in turn, round after round, prints one table of ratios with the
issue's targets, the flash sale and the memory per idle connection, and writes
`bench.json` and `bench.png` under --out (docs/perf/). `--quick` is a smoke test of the
harness with small counts: its numbers mean nothing.

    python -m bench [--quick] [--pg URL | --no-pg] [--out docs/perf]
    python -m bench --only pg [--rounds N]       # the PostgreSQL rows alone, printed per round
    python -m bench --only sqlite [--rounds N]   # target 1's rows alone, printed per round
    python -m bench --only flash [--no-pg]       # the flash sales alone
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from dataclasses import replace
from pathlib import Path

from bench import report
from bench.idle_memory import raise_fd_limit
from bench.lean_client import BenchError
from bench.suite import FULL, QUICK, Config, flash_sales, run_all, run_pg_only, run_sqlite_only

DEFAULT_PG = os.environ.get("WARUNG_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small counts: a smoke test")
    parser.add_argument("--pg", default=DEFAULT_PG, help="PostgreSQL base URL")
    parser.add_argument("--no-pg", action="store_true", help="skip the PostgreSQL rows")
    parser.add_argument("--out", type=Path, default=Path("docs/perf"))
    parser.add_argument(
        "--only",
        choices=["pg", "sqlite", "flash"],
        help="only these rows, printed (no JSON or chart written)",
    )
    parser.add_argument("--rounds", type=int, help="rounds of each section (default 3)")
    args = parser.parse_args()
    cfg = QUICK if args.quick else FULL
    if args.rounds:
        cfg = replace(cfg, rounds=args.rounds)
    raise_fd_limit(2 * max(cfg.memory_connections, 3 * max(cfg.fan_sizes)) + 1000)
    if args.only:
        only(cfg, args.only, None if args.no_pg else args.pg)
        return
    began = report.machine()
    try:
        found = asyncio.run(run_all(cfg, None if args.no_pg else args.pg))
    except (BenchError, OSError) as exc:
        sys.exit(f"bench: run aborted: {exc}")
    made = report.rows(found)
    path = report.write(found, made, args.out, began)
    print(f"{cfg}\nload average at start {began['load_average']}")
    print(report.table(made))
    print(report.flash_table(found["flash_sale"]))
    print(report.memory_line(found["memory"]))
    print(f"wrote {path} and {path.with_suffix('.png')}")


def only(cfg: Config, section: str, url: str | None) -> None:
    """One section's rows, and each round's samples beside the floor of the same round."""
    began = report.machine()
    try:
        if section == "flash":
            print(report.flash_table(asyncio.run(flash_sales(cfg, url))))
            return
        if section == "pg":
            if url is None:
                sys.exit("bench: --only pg needs PostgreSQL")
            samples = asyncio.run(run_pg_only(cfg, url))
            made = report.pg_rows(samples, cfg.clients, None)
        else:
            samples = asyncio.run(run_sqlite_only(cfg))
            made = report.sqlite_rows(samples)
    except (BenchError, OSError) as exc:
        sys.exit(f"bench: run aborted: {exc}")
    ended = report.machine()["load_average"]
    print(f"{cfg}\nload average at start {began['load_average']}, at end {ended}")
    for name, values in samples.items():
        print(f"{name:<24} " + "  ".join(report.fmt(v) for v in values))
    print(report.table(made))


if __name__ == "__main__":
    main()
