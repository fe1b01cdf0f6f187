"""How a write to products tells the running servers, from any process (docs/live-import.md).

The servers send `stock` events for changes they commit themselves. A change made by another
process, such as `warung-server import-products`, reaches them in one of two ways, both
inside the writing transaction, so they hear of it only if it commits:

- PostgreSQL: `pg_notify` on the stock channel every server LISTENs to (`server.pg_events`),
  one notification per product, as a server's own stock changes are announced;
- SQLite: the setting `products_changed` takes a new random value. The one server of a
  SQLite shop reads that setting every `server.import_watch.POLL_S` and, when it moved,
  reads the products again and publishes those whose `version` is newer than it knew.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable

import peewee as pw

from db.held_statements import later

STOCK_CHANNEL = "warung_stock"
CHANGED_SETTING = "products_changed"


def notify_stock(db: pw.Database, product_id: int, stock: int, version: int) -> None:
    """Inside the writing transaction: tell every server of a product's stock (PostgreSQL
    only). Channels are per schema (`warung_stock_<schema>`): NOTIFY reaches a whole
    database, and two shops in two schemas of one database must not hear each other."""
    if isinstance(db, pw.PostgresqlDatabase):
        later(
            db,
            f"SELECT pg_notify('{STOCK_CHANNEL}_' || current_schema(), %s)",
            (f"{product_id}:{stock}:{version}",),
        )


def announce_products(db: pw.Database, changes: Iterable[tuple[int, int, int]]) -> None:
    """Inside the writing transaction: tell the running servers that products were written,
    `changes` the `(product_id, stock, version)` of those created or whose stock changed
    (on SQLite the server re-reads every product, so other fields are seen too)."""
    if isinstance(db, pw.PostgresqlDatabase):
        for product_id, stock, version in changes:
            notify_stock(db, product_id, stock, version)
        return
    db.execute_sql(
        "INSERT INTO settings (key, value) VALUES (?, ?) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (CHANGED_SETTING, secrets.token_hex(8)),
    )
