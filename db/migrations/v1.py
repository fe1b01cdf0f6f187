"""Schema version 1, frozen: never edit it once it has shipped."""

from __future__ import annotations

import peewee as pw

from db.migrations.ddl import run


def core(db: pw.Database) -> None:
    """core tables: settings, users, sessions, catalog, stock, carts, orders, payments"""
    run(
        db,
        """
CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
INSERT INTO settings (key, value) VALUES
    ('shop_name', 'warung'), ('currency', 'IDR'), ('currency_exponent', '2');

CREATE TABLE users (
    id $id,
    username TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL,
    totp_secret TEXT,
    totp_enabled $bool NOT NULL DEFAULT $false,
    disabled $bool NOT NULL DEFAULT $false,
    failed_logins INTEGER NOT NULL DEFAULT 0,
    locked_until $ts,
    created_at $ts NOT NULL DEFAULT $now,
    CONSTRAINT users_username_key UNIQUE (username),
    CONSTRAINT users_username_lower CHECK (username = lower(username)),
    CONSTRAINT users_role_check CHECK (role IN ('customer', 'clerk', 'admin')),
    CONSTRAINT users_failed_logins_check CHECK (failed_logins >= 0)
);

CREATE TABLE sessions (
    id $id,
    user_id INTEGER NOT NULL REFERENCES users (id),
    token_hash TEXT NOT NULL,
    created_at $ts NOT NULL DEFAULT $now,
    expires_at $ts NOT NULL,
    revoked_at $ts,
    last_seen_at $ts NOT NULL DEFAULT $now,
    CONSTRAINT sessions_token_hash_key UNIQUE (token_hash)
);
CREATE INDEX sessions_user_id ON sessions (user_id);

CREATE TABLE categories (
    id $id,
    name TEXT NOT NULL,
    parent_id INTEGER REFERENCES categories (id),
    CONSTRAINT categories_name_check CHECK (name <> '')
);
CREATE INDEX categories_parent_id ON categories (parent_id);

CREATE TABLE products (
    id $id,
    sku TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    category_id INTEGER REFERENCES categories (id),
    price $money NOT NULL,
    currency TEXT NOT NULL,
    stock INTEGER NOT NULL,
    initial_stock INTEGER NOT NULL,
    version INTEGER NOT NULL DEFAULT 1,
    archived $bool NOT NULL DEFAULT $false,
    created_at $ts NOT NULL DEFAULT $now,
    updated_at $ts NOT NULL DEFAULT $now,
    CONSTRAINT products_sku_key UNIQUE (sku),
    CONSTRAINT products_price_check CHECK (price >= 0),
    CONSTRAINT products_stock_check CHECK (stock >= 0),
    CONSTRAINT products_initial_stock_check CHECK (initial_stock >= 0),
    CONSTRAINT products_version_check CHECK (version >= 1)
);
CREATE INDEX products_category_id_name ON products (category_id, name);
CREATE INDEX products_name ON products (name);

CREATE TABLE orders (
    id $id,
    customer_id INTEGER REFERENCES users (id),
    clerk_id INTEGER REFERENCES users (id),
    status TEXT NOT NULL,
    channel TEXT NOT NULL,
    total $money NOT NULL,
    currency TEXT NOT NULL,
    cancel_reason TEXT,
    idempotency_key TEXT,
    created_at $ts NOT NULL DEFAULT $now,
    updated_at $ts NOT NULL DEFAULT $now,
    CONSTRAINT orders_status_check CHECK (status IN
        ('pending', 'paid', 'shipped', 'delivered', 'cancelled', 'refunded', 'completed')),
    CONSTRAINT orders_channel_check CHECK (channel IN ('online', 'pos')),
    CONSTRAINT orders_total_check CHECK (total >= 0)
);
CREATE INDEX orders_customer_id_id ON orders (customer_id, id);

CREATE TABLE order_lines (
    id $id,
    order_id INTEGER NOT NULL REFERENCES orders (id),
    product_id INTEGER NOT NULL REFERENCES products (id),
    sku TEXT NOT NULL,
    name TEXT NOT NULL,
    qty INTEGER NOT NULL,
    unit_price $money NOT NULL,
    line_total $money NOT NULL,
    refunded_qty INTEGER NOT NULL DEFAULT 0,
    CONSTRAINT order_lines_qty_check CHECK (qty > 0),
    CONSTRAINT order_lines_unit_price_check CHECK (unit_price >= 0),
    CONSTRAINT order_lines_line_total_check CHECK (line_total >= 0),
    CONSTRAINT order_lines_refunded_qty_check CHECK (refunded_qty >= 0 AND refunded_qty <= qty)
);
CREATE INDEX order_lines_order_id ON order_lines (order_id);

CREATE TABLE stock_movements (
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
        ('sale', 'cancel', 'refund', 'restock', 'adjustment')),
    CONSTRAINT stock_movements_delta_check CHECK (delta <> 0),
    CONSTRAINT stock_movements_stock_after_check CHECK (stock_after >= 0)
);
CREATE INDEX stock_movements_product_id_id ON stock_movements (product_id, id);

CREATE TABLE cart_lines (
    id $id,
    user_id INTEGER NOT NULL REFERENCES users (id),
    product_id INTEGER NOT NULL REFERENCES products (id),
    qty INTEGER NOT NULL,
    added_at $ts NOT NULL DEFAULT $now,
    CONSTRAINT cart_lines_user_id_product_id_key UNIQUE (user_id, product_id),
    CONSTRAINT cart_lines_qty_check CHECK (qty > 0)
);

CREATE TABLE payments (
    id $id,
    order_id INTEGER NOT NULL REFERENCES orders (id),
    provider TEXT NOT NULL,
    method TEXT NOT NULL,
    reference TEXT,
    amount $money NOT NULL,
    status TEXT NOT NULL,
    created_at $ts NOT NULL DEFAULT $now,
    updated_at $ts NOT NULL DEFAULT $now,
    CONSTRAINT payments_amount_check CHECK (amount >= 0),
    CONSTRAINT payments_status_check CHECK (status IN
        ('pending', 'captured', 'declined', 'refunded', 'voided'))
);
CREATE INDEX payments_order_id ON payments (order_id);

CREATE TABLE idempotency_keys (
    id $id,
    user_id INTEGER NOT NULL REFERENCES users (id),
    key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    order_id INTEGER REFERENCES orders (id),
    response $blob,
    created_at $ts NOT NULL DEFAULT $now,
    CONSTRAINT idempotency_keys_user_id_key_key UNIQUE (user_id, key)
);
""",
    )
