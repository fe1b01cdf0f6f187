"""Schema version 3, frozen: never edit it once it has shipped."""

from __future__ import annotations

import peewee as pw

from db.migrations.ddl import run


def hot_paths(db: pw.Database) -> None:
    """indexes for the checkout's key lookups, pending orders and the catalog's sort order"""
    run(
        db,
        """
CREATE INDEX idempotency_keys_order_id ON idempotency_keys (order_id);
CREATE INDEX orders_status ON orders (status);
CREATE INDEX products_lower_name_id ON products (lower(name), id);
""",
    )
