"""Memory per idle connection (issue 19, item 5): the server's resident (RSS) and
proportional (PSS) memory before `count` signed-in connections, with them idle, and with
each subscribed to `products` products, from /proc/<pid>/smaps_rollup."""

from __future__ import annotations

import asyncio
import resource
from pathlib import Path
from typing import Any

from bench.clients import in_batches, signed_in
from bench.lean_client import LeanClient

SETTLE_S = 2.0  # for the server to finish the last sign-ins' work before a reading


def memory_kib(pid: int) -> dict[str, int]:
    """The process's Rss and Pss in KiB."""
    found = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in ("Rss", "Pss"):
            found[name.lower()] = int(rest.split()[0])
    return found


def raise_fd_limit(needed: int) -> int:
    """Raise this process's soft limit on open files towards `needed` (at most the hard
    limit); the limit now."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, max(soft, needed))
    if want > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    return want


async def idle_memory(
    pid: int, port: int, tokens: list[str], products: list[int]
) -> dict[str, Any]:
    await asyncio.sleep(SETTLE_S)
    before = memory_kib(pid)
    clients = await in_batches(lambda i: signed_in(LeanClient, port, tokens[i]), len(tokens))
    try:
        await asyncio.sleep(SETTLE_S)
        idle = memory_kib(pid)
        for start in range(0, len(clients), 200):
            await asyncio.gather(
                *(
                    c.call("stock.subscribe", product_ids=products)
                    for c in clients[start : start + 200]
                )
            )
        await asyncio.sleep(SETTLE_S)
        subscribed = memory_kib(pid)
    finally:
        for client in clients:
            client.close()
    count = len(clients)

    def per_connection(after: dict[str, int]) -> dict[str, float]:
        return {kind: (after[kind] - before[kind]) / count for kind in ("rss", "pss")}

    return {
        "connections": count,
        "products_per_connection": len(products),
        "server_kib": {"before": before, "idle": idle, "subscribed": subscribed},
        "kib_per_idle_connection": per_connection(idle),
        "kib_per_subscribed_connection": per_connection(subscribed),
    }
