"""Keep the server's stock subscription equal to the products the screens show.

Each view names the products it shows (the catalog its loaded rows, the cart its lines);
the watch subscribes what is newly wanted and unsubscribes what no view wants any more.
The SDK remembers what is subscribed and restores it after a reconnect, so the watch only
has to catch up on changes that failed while the link was down.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Iterator

from client_tui.stock import Level, levels_from_snapshot
from protocol.client import AsyncClient
from protocol.rules import MAX_SUBSCRIBE_IDS


class StockWatch:
    def __init__(self, client: AsyncClient, on_levels: Callable[[dict[int, Level]], None]):
        self._client = client
        self._on_levels = on_levels
        self._wanted: dict[str, frozenset[int]] = {}
        self._subscribed: set[int] = set()
        self._lock = asyncio.Lock()

    @property
    def subscribed(self) -> frozenset[int]:
        return frozenset(self._subscribed)

    async def want(self, view: str, product_ids: Iterable[int]) -> None:
        """Set the products `view` shows, and bring the subscription in line."""
        self._wanted[view] = frozenset(product_ids)
        await self.sync()

    async def sync(self, fresh: bool = False) -> None:
        """Subscribe what is wanted and not held, unsubscribe what is held and not wanted.

        `fresh` subscribes everything wanted again, for a new snapshot (after a `seq` gap).
        """
        async with self._lock:
            wanted = set().union(*self._wanted.values())
            adding = wanted if fresh else wanted - self._subscribed
            for chunk in _chunks(adding):
                snapshot = await self._client.subscribe_stock(chunk)
                self._subscribed.update(chunk)
                self._on_levels(levels_from_snapshot(snapshot))
            for chunk in _chunks(self._subscribed - wanted):
                await self._client.unsubscribe_stock(chunk)
                self._subscribed.difference_update(chunk)


def _chunks(ids: set[int]) -> Iterator[list[int]]:
    ordered = sorted(ids)
    for start in range(0, len(ordered), MAX_SUBSCRIBE_IDS):
        yield ordered[start : start + MAX_SUBSCRIBE_IDS]
