"""Schema version 4, frozen: never edit it once it has shipped."""

from __future__ import annotations

import peewee as pw

from db.migrations.ddl import run


def clerk(db: pw.Database) -> None:
    """registers, refunds and their lines; orders' register and tracking reference"""
    run(
        db,
        """
CREATE TABLE registers (
    id $id,
    station TEXT NOT NULL,
    clerk_id INTEGER NOT NULL REFERENCES users (id),
    status TEXT NOT NULL DEFAULT 'open',
    opened_at $ts NOT NULL DEFAULT $now,
    opening_cash $money NOT NULL,
    closed_at $ts,
    counted_cash $money,
    expected_cash $money,
    CONSTRAINT registers_station_check CHECK (station <> ''),
    CONSTRAINT registers_status_check CHECK (status IN ('open', 'closed')),
    CONSTRAINT registers_opening_cash_check CHECK (opening_cash >= 0),
    CONSTRAINT registers_counted_cash_check CHECK (counted_cash >= 0),
    CONSTRAINT registers_closing_check CHECK (
        (status = 'open' AND closed_at IS NULL AND counted_cash IS NULL
            AND expected_cash IS NULL)
        OR (status = 'closed' AND closed_at IS NOT NULL AND counted_cash IS NOT NULL
            AND expected_cash IS NOT NULL))
);
CREATE UNIQUE INDEX registers_one_open_per_clerk ON registers (clerk_id) WHERE status = 'open';

ALTER TABLE orders ADD COLUMN register_id INTEGER REFERENCES registers (id);
ALTER TABLE orders ADD COLUMN tracking_ref TEXT;
CREATE INDEX orders_register_id ON orders (register_id) WHERE register_id IS NOT NULL;

DROP INDEX order_lines_order_id;
CREATE UNIQUE INDEX order_lines_order_id_product_id ON order_lines (order_id, product_id);

CREATE TABLE refunds (
    id $id,
    order_id INTEGER NOT NULL REFERENCES orders (id),
    user_id INTEGER NOT NULL REFERENCES users (id),
    register_id INTEGER REFERENCES registers (id),
    method TEXT NOT NULL,
    amount $money NOT NULL,
    reason TEXT NOT NULL,
    reference TEXT,
    created_at $ts NOT NULL DEFAULT $now,
    CONSTRAINT refunds_method_check CHECK (method IN ('cash', 'card', 'ewallet')),
    CONSTRAINT refunds_amount_check CHECK (amount >= 0),
    CONSTRAINT refunds_reason_check CHECK (reason <> '')
);
CREATE INDEX refunds_order_id ON refunds (order_id);
CREATE INDEX refunds_register_id ON refunds (register_id) WHERE register_id IS NOT NULL;

CREATE TABLE refund_lines (
    id $id,
    refund_id INTEGER NOT NULL REFERENCES refunds (id),
    product_id INTEGER NOT NULL REFERENCES products (id),
    qty INTEGER NOT NULL,
    amount $money NOT NULL,
    CONSTRAINT refund_lines_qty_check CHECK (qty > 0),
    CONSTRAINT refund_lines_amount_check CHECK (amount >= 0),
    CONSTRAINT refund_lines_refund_id_product_id_key UNIQUE (refund_id, product_id)
);
""",
    )
