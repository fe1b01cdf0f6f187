"""Schema version 8, frozen: never edit it once it has shipped."""

from __future__ import annotations

import peewee as pw

from db.migrations.ddl import run


def pending_by_customer(db: pw.Database) -> None:
    """an index of each customer's orders being paid for, read by every checkout"""
    run(
        db,
        """
CREATE INDEX orders_pending_customer_id ON orders (customer_id) WHERE status = 'pending';
""",
    )
