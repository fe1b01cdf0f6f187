"""CPU time read from /proc: of a server and its writer process, of the PostgreSQL on this
machine, and of the whole machine, so a run can say which of them filled the cores."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")


def _stats() -> Iterator[tuple[str, str, list[str]]]:
    """(pid, command name, the fields after the name) of every process still there."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # gone meanwhile
            continue
        head, tail = text.rsplit(")", 1)
        yield stat.parent.name, head.split("(", 1)[1], tail.split()


def family(pid: int) -> list[list[str]]:
    """The /proc stat fields (after the command name) of process `pid` and of its live
    children (a SQLite server's writer process)."""
    return [fields for found, _, fields in _stats() if str(pid) in (found, fields[1])]


def server_cpu_s(pid: int | None) -> float | None:
    """CPU seconds used so far by process `pid` and its live children, from /proc; None
    when the server is not ours to watch."""
    if pid is None or not Path("/proc/self/stat").exists():
        return None
    ticks = sum(int(fields[11]) + int(fields[12]) for fields in family(pid))  # utime, stime
    return ticks / TICK


def postgres_cpu_s(wait: float = 2.0) -> float | None:
    """CPU seconds used so far by the PostgreSQL processes on this machine: the live ones'
    own, and the exited backends' that the postmaster has collected (its children's times).
    None when no PostgreSQL runs here.

    /proc is read one process at a time, so a backend collected meanwhile could be missed
    (the postmaster read before, the backend gone after) or counted twice. Two readings in
    a row that agree on the processes and on the postmaster's collected times are
    consistent; this reads until two do, for up to `wait` seconds."""
    deadline = time.monotonic() + wait
    found = _postgres()
    while True:
        again = _postgres()
        stable = _shape(again) == _shape(found)
        found = again
        if stable or time.monotonic() > deadline:
            break
    if not found:
        return None
    ticks = 0
    for fields in found.values():
        ticks += int(fields[11]) + int(fields[12])
        if fields[1] not in found:  # the postmaster
            ticks += int(fields[13]) + int(fields[14])  # cutime, cstime
    return ticks / TICK


def _postgres() -> dict[str, list[str]]:
    return {pid: fields for pid, name, fields in _stats() if name == "postgres"}


def _shape(found: dict[str, list[str]]) -> tuple[frozenset[str], tuple[str, ...]]:
    """The processes, and the postmaster's collected times: what a collection changes."""
    collected = (f for fields in found.values() if fields[1] not in found for f in fields[13:15])
    return frozenset(found), tuple(collected)


def busy_s() -> float:
    """CPU seconds all the machine's cores have spent busy so far (not idle, not waiting)."""
    ticks = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, ticks[:8])
    return (user + nice + system + irq + softirq + steal) / TICK


@dataclass
class Usage:
    """What a block of work used of the machine: `busy` is the share of all its cores (1.0
    is every core busy throughout), `postgres_s` the database's CPU seconds."""

    busy: float = 0.0
    postgres_s: float = float("nan")


@contextlib.contextmanager
def machine_usage() -> Iterator[Usage]:
    """The machine's CPU and PostgreSQL's over the block, filled in when it ends."""
    usage = Usage()
    postgres, busy, wall = postgres_cpu_s(), busy_s(), time.perf_counter()
    yield usage
    wall = time.perf_counter() - wall
    usage.busy = (busy_s() - busy) / (wall * (os.cpu_count() or 1))
    ended = postgres_cpu_s()
    if postgres is not None and ended is not None:
        usage.postgres_s = ended - postgres
