"""Schema version 7, frozen: never edit it once it has shipped."""

from __future__ import annotations

import peewee as pw

from db.migrations.ddl import dialect, run, sqlite_rebuild


def offline_sales(db: pw.Database) -> None:
    """offline sales: orders' receipt and offline_at, the shortfall movement kind, shortfalls"""
    if dialect(db) == "postgresql":
        run(
            db,
            """
ALTER TABLE stock_movements DROP CONSTRAINT stock_movements_kind_check,
    ADD CONSTRAINT stock_movements_kind_check CHECK (kind IN
        ('sale', 'cancel', 'refund', 'restock', 'adjustment', 'shortfall'));
""",
        )
    else:
        _sqlite_movement_kinds(db)
    run(
        db,
        """
ALTER TABLE orders ADD COLUMN receipt TEXT;
ALTER TABLE orders ADD COLUMN offline_at $ts;
CREATE UNIQUE INDEX orders_receipt ON orders (receipt) WHERE receipt IS NOT NULL;
CREATE INDEX orders_sold_at ON orders ((COALESCE(offline_at, created_at)));

CREATE TABLE shortfalls (
    id $id,
    product_id INTEGER NOT NULL REFERENCES products (id),
    order_id INTEGER NOT NULL REFERENCES orders (id),
    qty INTEGER NOT NULL,
    created_at $ts NOT NULL DEFAULT $now,
    resolved_at $ts,
    resolved_by INTEGER REFERENCES users (id),
    reason TEXT,
    delta INTEGER,
    CONSTRAINT shortfalls_qty_check CHECK (qty > 0),
    CONSTRAINT shortfalls_order_id_product_id_key UNIQUE (order_id, product_id),
    CONSTRAINT shortfalls_resolution_check CHECK (
        (resolved_at IS NULL AND resolved_by IS NULL AND reason IS NULL AND delta IS NULL)
        OR (resolved_at IS NOT NULL AND resolved_by IS NOT NULL AND reason <> ''
            AND delta IS NOT NULL))
);
CREATE INDEX shortfalls_open ON shortfalls (product_id, id) WHERE resolved_at IS NULL;
""",
    )


def _sqlite_movement_kinds(db: pw.Database) -> None:
    """Allow the `shortfall` kind on SQLite, which cannot change a CHECK in place: rebuild
    stock_movements as version 1 made it (nothing references it) with its indexes."""
    sqlite_rebuild(
        db,
        "stock_movements",
        """
    id $id,
    product_id INTEGER NOT NULL REFERENCES products (id),
    kind TEXT NOT NULL,
    delta INTEGER NOT NULL,
    stock_after INTEGER NOT NULL,
    order_id INTEGER REFERENCES orders (id),
    user_id INTEGER REFERENCES users (id),
    reason TEXT,
    created_at $ts NOT NULL DEFAULT $now,
    CONSTRAINT stock_movements_kind_check CHECK (kind IN
        ('sale', 'cancel', 'refund', 'restock', 'adjustment', 'shortfall')),
    CONSTRAINT stock_movements_delta_check CHECK (delta <> 0),
    CONSTRAINT stock_movements_stock_after_check CHECK (stock_after >= 0)
""",
        """
CREATE INDEX stock_movements_product_id_id ON stock_movements (product_id, id);
CREATE INDEX stock_movements_order_id ON stock_movements (order_id);
""",
    )
