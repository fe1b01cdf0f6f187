"""The schema's own guarantees, on SQLite and PostgreSQL alike."""

from datetime import datetime, timedelta

import peewee as pw
import pytest

from db.models import (
    CartLine,
    IdempotencyKey,
    Order,
    OrderLine,
    Product,
    Session,
    Setting,
    StockMovement,
    User,
    utcnow,
)


def refused(database, fn):
    """Run `fn` in a transaction and assert the database refuses it."""
    with pytest.raises(pw.IntegrityError), database.atomic():
        fn()


def new_order(user, **fields):
    fields = {"status": "pending", "channel": "online", "total": 0, "currency": "IDR", **fields}
    return Order.create(customer=user, **fields)


def test_default_settings(database):
    assert {s.key: s.value for s in Setting.select()} == {
        "shop_name": "warung",
        "currency": "IDR",
        "currency_exponent": "2",
    }


def test_stock_never_negative(database, make_product):
    product = make_product(stock=1)
    refused(database, lambda: make_product(stock=-1))
    refused(
        database,
        lambda: Product.update(stock=Product.stock - 2).where(Product.id == product.id).execute(),
    )
    # A conditional decrement is how a sale takes the last unit: once, and never below zero.
    take = Product.update(stock=Product.stock - 1).where(
        Product.id == product.id, Product.stock >= 1
    )
    assert take.execute() == 1
    assert take.execute() == 0
    assert Product.get_by_id(product.id).stock == 0


def test_price_never_negative(database, make_product):
    refused(database, lambda: make_product(price=-1))


def test_money_beyond_32_bits(database, make_product):
    price = 50_000_000 * 100  # Rp 50 million in minor units, > 2**31
    assert Product.get_by_id(make_product(price=price).id).price == price


def test_sku_unique(database, make_product):
    make_product(sku="MIE-001")
    refused(database, lambda: make_product(sku="MIE-001"))


def test_cart_line_qty_positive_and_unique(database, make_user, make_product):
    user, product = make_user(), make_product()
    refused(database, lambda: CartLine.create(user=user, product=product, qty=0))
    refused(database, lambda: CartLine.create(user=user, product=product, qty=-3))
    CartLine.create(user=user, product=product, qty=2)
    refused(database, lambda: CartLine.create(user=user, product=product, qty=1))


def test_order_line_qty_positive_and_refunds_bounded(database, make_user, make_product):
    order, product = new_order(make_user()), make_product()
    line = {"order": order, "product": product, "sku": product.sku, "name": product.name}
    prices = {"unit_price": 100, "line_total": 0}
    refused(database, lambda: OrderLine.create(**line, **prices, qty=0))
    refused(database, lambda: OrderLine.create(**line, **prices, qty=-1))
    refused(database, lambda: OrderLine.create(**line, **prices, qty=1, refunded_qty=2))
    OrderLine.create(**line, **prices, qty=2, refunded_qty=2)


def test_order_status_and_channel_checked(database, make_user):
    user = make_user()
    refused(database, lambda: new_order(user, status="lost"))
    refused(database, lambda: new_order(user, channel="fax"))
    assert new_order(None, channel="pos", status="completed").customer_id is None


def test_movement_kind_and_delta_checked(database, make_product):
    product = make_product()

    def move(kind, delta, stock_after=10):
        return StockMovement.create(
            product=product, kind=kind, delta=delta, stock_after=stock_after
        )

    refused(database, lambda: move("restock", 0))
    refused(database, lambda: move("theft", -1))
    refused(database, lambda: move("adjustment", -1, stock_after=-1))
    assert move("adjustment", -1).kind == "adjustment"


def test_user_role_and_lowercase_username(database, make_user):
    refused(database, lambda: make_user(role="owner"))
    refused(database, lambda: make_user(username="Sari"))
    make_user(username="sari")
    refused(database, lambda: make_user(username="sari"))


def test_foreign_keys_enforced(database, make_product):
    refused(database, lambda: CartLine.create(user=999, product=make_product(), qty=1))
    refused(database, lambda: make_product(category=999))


def test_idempotency_key_unique_per_user(database, make_user):
    a, b = make_user(), make_user()
    entry = {"key": "k-1", "fingerprint": "f"}
    IdempotencyKey.create(user=a, response=b"\x81\xa2id\x01", **entry)
    IdempotencyKey.create(user=b, **entry)
    refused(database, lambda: IdempotencyKey.create(user=a, **entry))
    response = IdempotencyKey.get(user=a).response
    assert response is not None
    assert bytes(response) == b"\x81\xa2id\x01"


def test_session_token_hash_unique(database, make_user):
    user = make_user()
    later = utcnow() + timedelta(days=1)
    Session.create(user=user, token_hash="ab" * 32, expires_at=later)
    refused(database, lambda: Session.create(user=user, token_hash="ab" * 32, expires_at=later))


def test_timestamps_round_trip_as_naive_utc(database, make_user):
    user = make_user()
    stored = User.get_by_id(user.id).created_at
    assert isinstance(stored, datetime)
    assert stored.tzinfo is None
    assert abs(stored - utcnow()) < timedelta(minutes=1)


def test_database_defaults_are_utc_for_raw_inserts(database):
    database.execute_sql(
        "INSERT INTO users (username, password_hash, role) VALUES ('raw', 'x', 'clerk')"
    )
    raw = User.get(User.username == "raw")
    assert abs(raw.created_at - utcnow()) < timedelta(minutes=1)
    assert (raw.totp_enabled, raw.disabled) == (False, False)
