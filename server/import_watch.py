"""On SQLite, products another process changed (a CSV import) reach this server's clients.

`warung-server import-products` writes from a process of its own, so this server never
sees its commit. The importer moves the setting `products_changed` in its transaction
(`db.change_notice`); every `POLL_S` this server reads that one row (a primary-key lookup on
a reader thread). When the value moved, it reads every product once, refreshes its product
cache (name, price, archived, stock), and publishes the stock of each product that is new
or whose `version` is newer than the cache held: the hub sends them as `stock` events.
A read racing the server's own writes is harmless: the hub and the cache keep the highest
version of each product. PostgreSQL needs none of this: the importer NOTIFYs the stock
channel every server LISTENs to (`server.pg_events`).
"""

from __future__ import annotations

from typing import Any

import peewee as pw
from twisted.internet.defer import Deferred
from twisted.internet.task import LoopingCall

from db.change_notice import CHANGED_SETTING
from server import sql
from server.dbexec import Executor
from server.events import EventHub, StockChange
from server.periodic import logged
from server.services.catalog import all_products
from server.services.product_cache import ProductCache

POLL_S = 0.5


class ImportWatch:
    def __init__(self, dbx: Executor, hub: EventHub, cache: ProductCache, reactor: Any) -> None:
        self.dbx = dbx
        self.hub = hub
        self.cache = cache
        self.seen: str | None = None
        self._loop = LoopingCall(
            logged(
                lambda: Deferred.fromCoroutine(self._poll()),
                "reading the products an import changed",
            )
        )
        self._loop.clock = reactor

    async def start(self) -> None:
        """Note the marker as it is now (call before the cache is loaded), then poll it."""
        self.seen = await self.dbx.read(_marker)
        self._loop.start(POLL_S, now=False)

    def stop(self) -> None:
        if self._loop.running:
            self._loop.stop()

    async def _poll(self) -> None:
        marker = await self.dbx.read(_marker)
        if marker == self.seen:
            return
        products = await self.dbx.read(all_products)
        self.seen = marker
        self.hub.publish_stock(self.take(products))

    def take(self, products: list[dict[str, Any]]) -> list[StockChange]:
        """Put the products read into the cache; return the stock changes it did not know."""
        changes = []
        for item in products:
            held = self.cache.get(item["id"])
            if held is None or item["version"] > held["version"]:
                changes.append(StockChange(item["id"], item["stock"], item["version"]))
            self.cache.refresh(item)
        return changes


def _marker(db: pw.Database) -> str | None:
    row = sql.one(db, "SELECT value FROM settings WHERE key = ?", (CHANGED_SETTING,))
    return None if row is None else str(row[0])
