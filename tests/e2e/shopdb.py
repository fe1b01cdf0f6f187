"""Direct database access for end-to-end tests: seed before a run, check invariants after."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import peewee as pw

from db.connect import connect, disconnect
from db.conservation import check_conservation
from db.models import Category, Product, utcnow


@contextmanager
def opened(url: str) -> Iterator[pw.Database]:
    db = connect(url)
    try:
        yield db
    finally:
        disconnect(db)


def init_demo(url: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "server.cli", "init", "--db", url, "--demo"],
        check=True,
        capture_output=True,
    )


def add_product(url: str, sku: str, stock: int, price: int = 1_500_000) -> int:
    """A product with `stock` units, as if it had always had them (conservation holds)."""
    with opened(url):
        now = utcnow()
        product = Product.create(
            sku=sku,
            name=f"Test item {sku}",
            description="made by a test",
            category=Category.select().first(),
            price=price,
            currency="IDR",
            stock=stock,
            initial_stock=stock,
            created_at=now,
            updated_at=now,
        )
        return product.id


def facts(url: str, product_id: int) -> dict:
    """Stock, orders by status for a product, and every conservation problem."""
    with opened(url) as db:
        mark = _mark(db)
        (stock,) = db.execute_sql(
            f"SELECT stock FROM products WHERE id = {mark}", (product_id,)
        ).fetchone()
        statuses = db.execute_sql(
            "SELECT o.status, count(*) FROM orders o JOIN order_lines l ON l.order_id = o.id "
            f"WHERE l.product_id = {mark} GROUP BY o.status",
            (product_id,),
        ).fetchall()
        return {"stock": stock, "orders": dict(statuses), "problems": check_conservation(db)}


def _mark(db: pw.Database) -> str:
    return "%s" if isinstance(db, pw.PostgresqlDatabase) else "?"
