import pytest

from db.connect import connect, disconnect
from db.conservation import check_conservation
from db.demo import SHOP_NAME, ShopNotEmpty, load_demo
from db.migrations import migrate
from db.models import Category, Product, Setting, User, bind


def catalogue(db):
    return db.execute_sql(
        "SELECT p.sku, p.name, p.description, c.name, parent.name, p.price, p.currency,"
        " p.stock, p.initial_stock, p.version, p.archived"
        " FROM products p JOIN categories c ON c.id = p.category_id"
        " LEFT JOIN categories parent ON parent.id = c.parent_id ORDER BY p.sku"
    ).fetchall()


def test_demo_shop_meets_the_brief(database):
    shop = load_demo(database)
    assert shop.products == Product.select().count() >= 300
    assert shop.categories == Category.select().count()
    leaves = {p.category_id for p in Product.select(Product.category)}
    assert len(leaves) >= 8
    assert Category.select().where(Category.parent.is_null(False)).count() == len(leaves)
    stocks = [p.stock for p in Product.select(Product.stock)]
    assert sum(s == 0 for s in stocks) >= 3
    assert sum(1 <= s <= 5 for s in stocks) >= 10
    assert sum(20 <= s <= 200 for s in stocks) > len(stocks) * 0.75
    for product in Product.select():
        assert product.price > 0 and product.price % 100 == 0  # whole rupiah
        assert product.currency == "IDR"
        assert product.initial_stock == product.stock
    assert len({p.name for p in Product.select(Product.name)}) == shop.products
    assert Setting.get_by_id("shop_name").value == SHOP_NAME
    assert Setting.get_by_id("currency_exponent").value == "2"
    assert User.select().count() == 0
    assert check_conservation(database) == []


def test_demo_is_deterministic_across_databases(database, tmp_path):
    load_demo(database)
    first = catalogue(database)
    other = connect(f"sqlite:///{tmp_path / 'other.db'}")
    try:
        migrate(other)
        load_demo(other)
        assert catalogue(other) == first
    finally:
        disconnect(other)
        bind(database)


def test_demo_refuses_a_shop_with_products(database, make_product):
    make_product()
    with pytest.raises(ShopNotEmpty):
        load_demo(database)
    assert Product.select().count() == 1


def test_demo_needs_the_models_bound(database, tmp_path):
    other = connect(f"sqlite:///{tmp_path / 'other.db'}", bind_models=False)
    with pytest.raises(RuntimeError, match="bound to another database"):
        load_demo(other)
    disconnect(other)
