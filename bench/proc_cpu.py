"""CPU time read from /proc: of a server and its writer process."""

from __future__ import annotations

import os
from pathlib import Path


def family(pid: int) -> list[list[str]]:
    """The /proc stat fields (after the command name) of process `pid` and of its live
    children (a SQLite server's writer process)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        if stat.parent.name == str(pid) or fields[1] == str(pid):
            found.append(fields)
    return found


def server_cpu_s(pid: int | None) -> float | None:
    """CPU seconds used so far by process `pid` and its live children, from /proc; None
    when the server is not ours to watch."""
    if pid is None or not Path("/proc/self/stat").exists():
        return None
    ticks = sum(int(fields[11]) + int(fields[12]) for fields in family(pid))  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")
