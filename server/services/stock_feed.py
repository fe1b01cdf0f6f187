"""stock.subscribe / stock.unsubscribe: a snapshot now, then every committed change."""

from __future__ import annotations

from typing import Any

import peewee as pw
from twisted.internet.defer import Deferred, succeed

from protocol.errors import InvalidState
from server import sql
from server.dbexec import Executor
from server.dispatch import Call, Peer
from server.events import EventHub, StockChange
from server.services.catalog import not_found


class StockFeedService:
    def __init__(self, dbx: Executor, hub: EventHub, max_subscriptions: int) -> None:
        self.dbx = dbx
        self.hub = hub
        self.max_subscriptions = max_subscriptions

    async def subscribe(self, call: Call) -> dict[str, Any]:
        ids = call.args.get("product_ids")
        self._check_room(call.peer, ids)  # before the read: a refusal costs no query
        found = await self.dbx.read(lambda db: _snapshot(db, ids))
        if call.peer.closing:  # gone while the snapshot was read: keep nothing of it
            return {"snapshot": []}
        self._check_room(call.peer, ids)  # and after: pipelined subscribes ran meanwhile
        # Now, on the reactor: a change published while the snapshot was being read is newer
        # than the row read, and this subscription would not see it as an event.
        snapshot = [self._newest(row) for row in found]
        self.hub.subscribe(call.peer, ids)
        return {"snapshot": snapshot}

    def _check_room(self, peer: Peer, ids: list[int] | None) -> None:
        if ids is None:
            return
        watched = self.hub.subscriptions.get(peer, set())
        if len(watched | set(ids)) > self.max_subscriptions:
            raise InvalidState(
                f"at most {self.max_subscriptions} products per connection: "
                "unsubscribe some, or subscribe with all: true",
                {"reason": "too_many_subscriptions", "limit": self.max_subscriptions},
            )

    def unsubscribe(self, call: Call) -> dict[str, Any]:
        self.hub.unsubscribe(call.peer, call.args.get("product_ids"))
        return {}

    def watched_stock(self) -> Deferred[list[StockChange]]:
        """The stock of every product a client here watches, read now (after a spell in
        which changes made elsewhere may have been missed)."""
        watched = None if self.hub.everything else sorted(self.hub.by_product)
        if watched == []:
            return succeed([])
        return self.dbx.read(lambda db: read_stock(db, watched))

    def _newest(self, row: StockChange) -> dict[str, int]:
        known = self.hub.latest.get(row.product_id)
        if known is not None and known.version > row.version:
            row = known
        return {"product_id": row.product_id, "stock": row.stock, "version": row.version}


def read_stock(db: pw.Database, ids: list[int] | None) -> list[StockChange]:
    """The stock of these products (of every product when `ids` is None), by id; an id with
    no product is left out."""
    where = "" if ids is None else f"WHERE id IN ({', '.join('?' * len(ids))})"
    found = sql.rows(db, f"SELECT id, stock, version FROM products {where} ORDER BY id", ids or ())
    return [StockChange(*row) for row in found]


def _snapshot(db: pw.Database, ids: list[int] | None) -> list[StockChange]:
    """`read_stock` in the order asked for; an id with no product is `not_found`."""
    found = read_stock(db, ids)
    if ids is None:
        return found
    by_id = {change.product_id: change for change in found}
    missing = [pid for pid in ids if pid not in by_id]
    if missing:
        raise not_found("product", missing[0])
    return [by_id[pid] for pid in ids]
