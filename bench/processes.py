"""The processes `python -m bench` starts: warung servers, the echo and fan-out floors."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from bench.fanout import LIMITS
from bench.lean_client import BenchError
from bench.proc_cpu import server_cpu_s

HERE = Path(__file__).parent
LISTENING = r"listening on [\d.]+:(\d+)"
BENCH_LIMITS = (
    *LIMITS,  # thousands of connections from one address, quickly
    "--limit",
    "max_connections=30000",
    "--limit",
    "heartbeat_s=3600",  # idle watchers send nothing for minutes
    "--limit",
    "failed_logins_per_address_per_min=1000000",  # the clerks sign in with passwords
)


@dataclass(frozen=True)
class Proc:
    pid: int
    port: int

    def cpu_s(self) -> float:
        """CPU seconds of the process and its children (a SQLite server's writer)."""
        used = server_cpu_s(self.pid)
        assert used is not None, "no /proc here"
        return used


@contextlib.contextmanager
def started(argv: list[str]) -> Iterator[Proc]:
    """Run `argv` until the block ends; its port from its 'listening on' line. Its output
    is read on, so a chatty server never blocks on a full pipe."""
    path = os.pathsep.join(filter(None, [str(HERE.parent), os.environ.get("PYTHONPATH")]))
    proc = subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONPATH": path},  # this checkout's code, wherever run from
    )
    assert proc.stdout is not None
    try:
        port = _port(proc.stdout)
        if port is None:
            raise BenchError(f"{' '.join(argv[:4])}... did not start")
        threading.Thread(target=_drain, args=(proc.stdout,), daemon=True).start()
        yield Proc(proc.pid, port)
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def _port(out: IO[str]) -> int | None:
    for line in out:
        if found := re.search(LISTENING, line):
            return int(found.group(1))
    return None


def _drain(out: IO[str]) -> None:
    for _ in out:
        pass


def warung(url: str) -> list[str]:
    return [sys.executable, "-m", "server.cli", "serve", "--db", url, "--port", "0", *BENCH_LIMITS]


def floor(script: str) -> list[str]:
    return [sys.executable, str(HERE / script)]
