"""Peewee models for the warung tables.

The schema itself is created by `db.migrations` (explicit, versioned DDL); these models only
describe it for queries, and `tests/db/test_migrations.py` checks that the two agree. Every model
is bound through `database_proxy`, which `db.connect.connect()` (or `bind()`) initialises. The
integer `id` key of every table but `settings` is declared on its model rather than left for
peewee to add, so that the type checker knows it too.

Timestamps are naive `datetime`s in UTC (`utcnow()`): PostgreSQL columns are `TIMESTAMP`
(without time zone) and SQLite stores text, so an aware datetime would not round-trip on both.
Money columns are 64-bit integers counting the currency's minor unit.
"""

from __future__ import annotations

from datetime import UTC, datetime

import peewee as pw

database_proxy = pw.DatabaseProxy()


def utcnow() -> datetime:
    """The current time as a naive UTC datetime, the form every timestamp column holds."""
    return datetime.now(UTC).replace(tzinfo=None)


def bind(db: pw.Database) -> None:
    """Point every model at `db`."""
    database_proxy.initialize(db)


def require_bound(db: pw.Database) -> None:
    """Raise unless the models are bound to `db` (functions given a `db` work through them)."""
    if database_proxy.obj is not db:
        raise RuntimeError("the models are bound to another database: call db.models.bind(db)")


class BaseModel(pw.Model):
    class Meta:
        database = database_proxy


class Setting(BaseModel):
    key = pw.TextField(primary_key=True)
    value = pw.TextField()

    class Meta:
        table_name = "settings"


class User(BaseModel):
    id = pw.AutoField()
    username = pw.TextField(unique=True)
    password_hash = pw.TextField()
    role = pw.TextField()
    totp_secret = pw.TextField(null=True)
    totp_enabled = pw.BooleanField(default=False)
    totp_last_step = pw.IntegerField(null=True)
    disabled = pw.BooleanField(default=False)
    created_at = pw.DateTimeField(default=utcnow)

    class Meta:
        table_name = "users"


class Session(BaseModel):
    id = pw.AutoField()
    user = pw.ForeignKeyField(User, column_name="user_id", backref="sessions")
    token_hash = pw.TextField(unique=True)
    created_at = pw.DateTimeField(default=utcnow)
    expires_at = pw.DateTimeField()
    revoked_at = pw.DateTimeField(null=True)
    last_used_at = pw.DateTimeField(null=True)
    address = pw.TextField(default="")
    client = pw.TextField(default="")
    idle_s = pw.IntegerField(default=2_592_000)

    class Meta:
        table_name = "sessions"


class RecoveryCode(BaseModel):
    """A single-use code that stands in for a TOTP code at sign-in; only its hash is kept."""

    id = pw.AutoField()
    user = pw.ForeignKeyField(User, column_name="user_id", backref="recovery_codes")
    code_hash = pw.TextField()
    used_at = pw.DateTimeField(null=True)

    class Meta:
        table_name = "recovery_codes"


class Category(BaseModel):
    id = pw.AutoField()
    name = pw.TextField()
    parent = pw.ForeignKeyField("self", column_name="parent_id", null=True, backref="children")

    class Meta:
        table_name = "categories"


class Product(BaseModel):
    id = pw.AutoField()
    sku = pw.TextField(unique=True)
    name = pw.TextField()
    description = pw.TextField(default="")
    category = pw.ForeignKeyField(
        Category, column_name="category_id", null=True, backref="products"
    )
    category_id: int | None  # set by peewee: the category's id without loading the category
    price = pw.BigIntegerField()
    currency = pw.TextField()
    stock = pw.IntegerField()
    initial_stock = pw.IntegerField()
    version = pw.IntegerField(default=1)
    archived = pw.BooleanField(default=False)
    created_at = pw.DateTimeField(default=utcnow)
    updated_at = pw.DateTimeField(default=utcnow)

    class Meta:
        table_name = "products"


class Register(BaseModel):
    """A till's session: opened by a clerk with a cash float, closed with a count."""

    id = pw.AutoField()
    station = pw.TextField()
    clerk = pw.ForeignKeyField(User, column_name="clerk_id", backref="registers")
    status = pw.TextField(default="open")
    opened_at = pw.DateTimeField(default=utcnow)
    opening_cash = pw.BigIntegerField()
    closed_at = pw.DateTimeField(null=True)
    counted_cash = pw.BigIntegerField(null=True)
    expected_cash = pw.BigIntegerField(null=True)

    class Meta:
        table_name = "registers"


class Order(BaseModel):
    id = pw.AutoField()
    customer = pw.ForeignKeyField(User, column_name="customer_id", null=True, backref="orders")
    clerk = pw.ForeignKeyField(User, column_name="clerk_id", null=True, backref="pos_orders")
    clerk_id: int | None  # set by peewee, as `Product.category_id`
    status = pw.TextField()
    channel = pw.TextField()
    total = pw.BigIntegerField()
    currency = pw.TextField()
    cancel_reason = pw.TextField(null=True)
    idempotency_key = pw.TextField(null=True)
    created_at = pw.DateTimeField(default=utcnow)
    updated_at = pw.DateTimeField(default=utcnow)
    register = pw.ForeignKeyField(Register, column_name="register_id", null=True, backref="orders")
    register_id: int | None  # set by peewee
    tracking_ref = pw.TextField(null=True)
    receipt = pw.TextField(null=True)
    offline_at = pw.DateTimeField(null=True)

    class Meta:
        table_name = "orders"


class OrderLine(BaseModel):
    id = pw.AutoField()
    order = pw.ForeignKeyField(Order, column_name="order_id", backref="lines")
    product = pw.ForeignKeyField(Product, column_name="product_id", backref="order_lines")
    sku = pw.TextField()
    name = pw.TextField()
    qty = pw.IntegerField()
    unit_price = pw.BigIntegerField()
    line_total = pw.BigIntegerField()
    refunded_qty = pw.IntegerField(default=0)

    class Meta:
        table_name = "order_lines"


class StockMovement(BaseModel):
    id = pw.AutoField()
    product = pw.ForeignKeyField(Product, column_name="product_id", backref="movements")
    product_id: int  # set by peewee, as `Product.category_id`
    kind = pw.TextField()
    delta = pw.IntegerField()
    stock_after = pw.IntegerField()
    order = pw.ForeignKeyField(Order, column_name="order_id", null=True, backref="movements")
    user = pw.ForeignKeyField(User, column_name="user_id", null=True, backref="movements")
    user_id: int | None  # set by peewee
    reason = pw.TextField(null=True)
    created_at = pw.DateTimeField(default=utcnow)

    class Meta:
        table_name = "stock_movements"


class Shortfall(BaseModel):
    """Units an offline sale sold that the stock did not hold, until a person resolves it."""

    id = pw.AutoField()
    product = pw.ForeignKeyField(Product, column_name="product_id", backref="shortfalls")
    order = pw.ForeignKeyField(Order, column_name="order_id", backref="shortfalls")
    qty = pw.IntegerField()
    created_at = pw.DateTimeField(default=utcnow)
    resolved_at = pw.DateTimeField(null=True)
    resolved_by = pw.ForeignKeyField(User, column_name="resolved_by", null=True)
    reason = pw.TextField(null=True)
    delta = pw.IntegerField(null=True)

    class Meta:
        table_name = "shortfalls"


class CartLine(BaseModel):
    id = pw.AutoField()
    user = pw.ForeignKeyField(User, column_name="user_id", backref="cart_lines")
    product = pw.ForeignKeyField(Product, column_name="product_id", backref="cart_lines")
    product_id: int  # set by peewee, as `Product.category_id`
    qty = pw.IntegerField()
    added_at = pw.DateTimeField(default=utcnow)

    class Meta:
        table_name = "cart_lines"


class Payment(BaseModel):
    id = pw.AutoField()
    order = pw.ForeignKeyField(Order, column_name="order_id", backref="payments")
    provider = pw.TextField()
    method = pw.TextField()
    reference = pw.TextField(null=True)
    amount = pw.BigIntegerField()
    status = pw.TextField()
    created_at = pw.DateTimeField(default=utcnow)
    updated_at = pw.DateTimeField(default=utcnow)

    class Meta:
        table_name = "payments"


class IdempotencyKey(BaseModel):
    id = pw.AutoField()
    user = pw.ForeignKeyField(User, column_name="user_id", backref="idempotency_keys")
    key = pw.TextField()
    fingerprint = pw.TextField()
    order = pw.ForeignKeyField(Order, column_name="order_id", null=True)
    response = pw.BlobField(null=True)
    created_at = pw.DateTimeField(default=utcnow)

    class Meta:
        table_name = "idempotency_keys"


class Refund(BaseModel):
    """Money given back for some units of an order; its lines say which."""

    id = pw.AutoField()
    order = pw.ForeignKeyField(Order, column_name="order_id", backref="refunds")
    user = pw.ForeignKeyField(User, column_name="user_id", backref="refunds")
    register = pw.ForeignKeyField(Register, column_name="register_id", null=True, backref="refunds")
    method = pw.TextField()
    amount = pw.BigIntegerField()
    reason = pw.TextField()
    reference = pw.TextField(null=True)
    created_at = pw.DateTimeField(default=utcnow)

    class Meta:
        table_name = "refunds"


class RefundLine(BaseModel):
    """The units of one product of the order that a refund gives back, and their money."""

    id = pw.AutoField()
    refund = pw.ForeignKeyField(Refund, column_name="refund_id", backref="lines")
    product = pw.ForeignKeyField(Product, column_name="product_id", backref="refund_lines")
    qty = pw.IntegerField()
    amount = pw.BigIntegerField()

    class Meta:
        table_name = "refund_lines"


class AuditLog(BaseModel):
    id = pw.AutoField()
    user_id = pw.IntegerField(null=True)  # no foreign key: the log outlives what it names
    action = pw.TextField()
    target = pw.TextField(null=True)
    details = pw.TextField(default="{}")
    created_at = pw.DateTimeField(default=utcnow)

    class Meta:
        table_name = "audit_log"


MODELS: tuple[type[BaseModel], ...] = (
    Setting,
    User,
    Session,
    RecoveryCode,
    Category,
    Product,
    Register,
    Order,
    OrderLine,
    StockMovement,
    Shortfall,
    CartLine,
    Payment,
    IdempotencyKey,
    Refund,
    RefundLine,
    AuditLog,
)
