"""Schema version 2, frozen: never edit it once it has shipped."""

from __future__ import annotations

import peewee as pw

from db.migrations.ddl import run


def audit(db: pw.Database) -> None:
    """audit log; indexes for sales reports and for an order's stock movements"""
    run(
        db,
        """
CREATE TABLE audit_log (
    id $id,
    user_id INTEGER,
    action TEXT NOT NULL,
    target TEXT,
    details TEXT NOT NULL DEFAULT '{}',
    created_at $ts NOT NULL DEFAULT $now
);
CREATE INDEX orders_created_at ON orders (created_at);
CREATE INDEX stock_movements_order_id ON stock_movements (order_id);
""",
    )
