"""How long `admin.report.sales` takes to compute (the two queries, no network) over a
shop's history: `--orders` orders of 2 lines each, one payment each, spread evenly over
`--years` years up to today, 90% of them counted (paid or completed) and the rest
cancelled; then reports of the last day, 7 days, 30 days and 366 days, each the median of
`--rounds` runs.

    python bench/sales_report.py [--db sqlite:///path | postgresql://...] [--orders 200000]

Without `--db`, a fresh SQLite file in a temp dir. A PostgreSQL URL must name an empty
schema (its `search_path`), which the bench fills.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta

import peewee as pw

from db.connect import connect
from db.migrations import migrate
from db.models import Product
from server import sql
from server.services.sales_report import sales_report

PRODUCTS = 500
SPANS = (1, 7, 30, 366)


def fill(db: pw.Database, orders: int, years: int, rng: random.Random) -> None:
    now = datetime.now(UTC).replace(tzinfo=None)
    with db.atomic():
        Product.insert_many(
            [
                {"sku": f"B{n}", "name": f"bench {n}", "price": 1000 + n, "currency": "IDR"}
                | {"stock": 10**6, "initial_stock": 10**6}
                for n in range(PRODUCTS)
            ]
        ).execute()
        ids = [p.id for p in Product.select(Product.id)]
        step = timedelta(days=365 * years) / orders
        for first in range(0, orders, 10_000):
            batch = range(first, min(orders, first + 10_000))
            _orders(db, [(n, now - step * (orders - n), rng) for n in batch], ids)


def _orders(
    db: pw.Database, made: list[tuple[int, datetime, random.Random]], ids: list[int]
) -> None:
    for _, at, rng in made:
        status = rng.choice(("paid", "shipped", "delivered", "completed") * 9 + ("cancelled",) * 4)
        channel = "pos" if status == "completed" else "online"
        order_id = sql.insert(
            db,
            "INSERT INTO orders (status, channel, total, currency, created_at, updated_at) "
            "VALUES (?, ?, 4000, 'IDR', ?, ?) RETURNING id",
            (status, channel, str(at), str(at)),
        )
        for pid in rng.sample(ids, 2):
            sql.execute(
                db,
                "INSERT INTO order_lines (order_id, product_id, sku, name, qty, unit_price, "
                "line_total, refunded_qty) VALUES (?, ?, 'b', 'b', 2, 1000, 2000, 0)",
                (order_id, pid),
            )
        sql.execute(
            db,
            "INSERT INTO payments (order_id, provider, method, amount, status) "
            "VALUES (?, 'fake', ?, 4000, 'captured')",
            (order_id, "cash" if channel == "pos" else rng.choice(("card", "ewallet"))),
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db")
    parser.add_argument("--orders", type=int, default=200_000)
    parser.add_argument("--years", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    url = args.db or f"sqlite:///{tempfile.mkdtemp(prefix='warung-report-')}/shop.db"
    db = connect(url)
    migrate(db)
    started = time.perf_counter()
    fill(db, args.orders, args.years, random.Random(1))
    print(f"{args.orders} orders in {time.perf_counter() - started:.1f} s on {url}")
    today = datetime.now(UTC).date()
    for days in SPANS:
        first = today - timedelta(days=days - 1)
        times = []
        for _ in range(args.rounds):
            began = time.perf_counter()
            found = sales_report(db, first, today, 100)
            times.append(time.perf_counter() - began)
        median_ms = statistics.median(times) * 1000
        print(f"{days:>4} days: {found['orders']:>7} orders, median {median_ms:8.1f} ms")


if __name__ == "__main__":
    main()
