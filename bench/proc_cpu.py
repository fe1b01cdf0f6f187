"""CPU time read from /proc: of a process, of a server and its writer process, of the
PostgreSQL on this machine, and of the whole machine, so a run can say which of them
filled the cores."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")
AGREE_WITHIN_S = 2.0  # how long `postgres_cpu_s` reads for two readings that agree
Found = dict[str, list[str]]  # pid -> the /proc stat fields after its command name


def processes() -> Iterator[tuple[str, str, list[str]]]:
    """(pid, command name, the stat fields after the name) of every process still there."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # gone meanwhile
            continue
        head, tail = text.rsplit(")", 1)
        yield stat.parent.name, head.split("(", 1)[1], tail.split()


def _own_ticks(fields: list[str]) -> int:
    return int(fields[11]) + int(fields[12])  # utime, stime


def cpu_s(pid: int) -> float:
    """CPU seconds used so far by process `pid` alone."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return _own_ticks(fields) / TICK


def family(pid: int) -> list[list[str]]:
    """The /proc stat fields (after the command name) of process `pid` and of its live
    children (a SQLite server's writer process)."""
    return [fields for found, _, fields in processes() if str(pid) in (found, fields[1])]


def server_cpu_s(pid: int | None) -> float | None:
    """CPU seconds used so far by process `pid` and its live children, from /proc; None
    when the server is not ours to watch."""
    if pid is None or not Path("/proc/self/stat").exists():
        return None
    return sum(_own_ticks(fields) for fields in family(pid)) / TICK


def postgres_cpu_s() -> float | None:
    """CPU seconds used so far by the PostgreSQL processes on this machine: the live ones'
    own, and the exited backends' that the postmaster has collected (its children's times).
    None when no PostgreSQL runs here.

    /proc is read one process at a time, so a backend collected meanwhile could be missed
    (the postmaster read before, the backend gone after) or counted twice. Two readings in
    a row that agree on the processes and on the postmaster's collected times are
    consistent; this reads until two do, for up to `AGREE_WITHIN_S`."""
    deadline = time.monotonic() + AGREE_WITHIN_S
    found = _postgres()
    while time.monotonic() < deadline:
        again = _postgres()
        if _shape(again) == _shape(found):
            found = again
            break
        found = again
        time.sleep(0.005)
    return postgres_ticks(found) / TICK if found else None


def _postgres() -> Found:
    return {pid: fields for pid, name, fields in processes() if name == "postgres"}


def _postmasters(found: Found) -> list[list[str]]:
    """The processes of `found` whose parent is not one of them."""
    return [fields for fields in found.values() if fields[1] not in found]


def _shape(found: Found) -> tuple[frozenset[str], tuple[str, ...]]:
    """The processes, and the postmaster's collected times: what a collection changes."""
    collected = tuple(f for fields in _postmasters(found) for f in fields[13:15])
    return frozenset(found), collected


def postgres_ticks(found: Found) -> int:
    """Clock ticks of PostgreSQL's processes `found`: their own, and the postmaster's
    collected children's (cutime, cstime)."""
    own = sum(_own_ticks(fields) for fields in found.values())
    return own + sum(int(fields[13]) + int(fields[14]) for fields in _postmasters(found))


def busy_ticks(line: str) -> int:
    """Clock ticks the machine's cores spent busy, from /proc/stat's first (`cpu`) line:
    user, nice, system, irq, softirq and steal; not idle, not waiting (guest time is in
    user already)."""
    user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, line.split()[1:9])
    return user + nice + system + irq + softirq + steal


def busy_s() -> float:
    """CPU seconds all the machine's cores have spent busy so far."""
    return busy_ticks(Path("/proc/stat").read_text().split("\n", 1)[0]) / TICK


@dataclass
class Usage:
    """What a block of work used of the machine: `busy` is the share of all its cores (1.0
    is every core busy throughout), `postgres_s` the database's CPU seconds (None when no
    PostgreSQL runs on this machine)."""

    busy: float = 0.0
    postgres_s: float | None = None


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
