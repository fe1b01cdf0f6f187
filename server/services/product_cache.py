"""Products in memory on the reactor thread, so `catalog.get` needs no database round trip.

Loaded when the server starts; stock and version follow every committed stock change
through the event hub, and the admin ops refresh the products they change. Products an
import changed while the server ran are read again (`server.import_watch`); one the cache
has not seen yet is read from the database once and kept. Only for a server that is the sole
writer of its database (SQLite); with several servers on PostgreSQL, changes made by the
others would not reach it, so those servers read the database instead.
"""

from __future__ import annotations

from typing import Any

from server.events import StockChange


class ProductCache:
    def __init__(self) -> None:
        self.by_id: dict[int, dict[str, Any]] = {}
        self.ids_by_sku: dict[str, int] = {}

    def put(self, product: dict[str, Any]) -> None:
        self.by_id[product["id"]] = product
        self.ids_by_sku[product["sku"]] = product["id"]

    def get(self, product_id: int | None = None, sku: str | None = None) -> dict[str, Any] | None:
        if product_id is None and sku is not None:
            product_id = self.ids_by_sku.get(sku)
        return self.by_id.get(product_id) if product_id is not None else None

    def refresh(self, product: dict[str, Any]) -> None:
        """Take a product just written by this server; stock and version stay as held when
        the cache already holds a newer change of them."""
        held = self.by_id.get(product["id"])
        if held is not None and held["version"] > product["version"]:
            product = {**product, "stock": held["stock"], "version": held["version"]}
        self.put(product)

    def apply(self, change: StockChange) -> None:
        """Take a committed stock change (a new dict: maps handed out are never mutated)."""
        product = self.by_id.get(change.product_id)
        if product is not None and change.version > product["version"]:
            self.by_id[change.product_id] = {
                **product,
                "stock": change.stock,
                "version": change.version,
            }
