"""What the SQLite writer alone can commit: checkouts/s with no network and no reactor.

Runs the real write jobs of a checkout (`change_cart`, `begin_checkout`, `mark_paid`) in
the writer's own group commit (`run_batch`), `--customers` jobs to a batch as 100 busy
customers would give it, on a fresh demo shop in a temp dir. Beside it, two baselines
measured in the same run: the same batches of jobs that only `SELECT 1`, i.e. what the
savepoints, job lookup and result packing cost without the checkout's SQL; and the floor's
statements for the same checkouts (`bench.floors.checkout`) on the same connection, one
commit a batch, i.e. the checkout's SQL without the jobs around it.

This is the ceiling the whole server cannot pass on SQLite, however lean the reactor.

    python bench/writer.py [--customers 100] [--rounds 30]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import peewee as pw

from bench import floors
from db.accounts import create_user
from db.connect import connect
from db.models import Product, User
from protocol.codec import unpackb
from server import sql
from server.services.cart import change_cart
from server.services.order_jobs import begin_checkout, mark_paid
from server.write_jobs import job_name, write_job
from server.writer_process import run_batch

STOCK = 10_000_000
PASSWORD = "bench-password"


def customer_name(i: int) -> str:
    """The name of the bench shop's `i`th customer (password `PASSWORD`)."""
    return f"bench{i}"


@write_job
def select_one(db: pw.Database) -> int:
    row = sql.one(db, "SELECT 1")
    assert row is not None
    return int(row[0])


def shop(folder: Path, customers: int) -> tuple[pw.Database, list[int], list[int]]:
    url = f"sqlite:///{folder / 'writer.db'}"
    subprocess.run(
        [sys.executable, "-m", "server.cli", "init", "--db", url, "--demo"],
        check=True,
        capture_output=True,
    )
    db = connect(url, pragmas={"wal_autocheckpoint": 0})
    first = create_user(customer_name(0), PASSWORD, "customer")  # one hash, shared by all
    others = [
        {"username": customer_name(i), "password_hash": first.password_hash, "role": "customer"}
        for i in range(1, customers)
    ]
    if others:
        User.insert_many(others).execute()
    names = [customer_name(i) for i in range(customers)]
    chosen = User.select(User.username, User.id).where(User.username.in_(names))
    found = {user.username: user.id for user in chosen}
    users = [found[name] for name in names]
    Product.update(stock=STOCK, initial_stock=STOCK).execute()
    products = [p.id for p in Product.select(Product.id).limit(customers)]
    return db, users, products


def checkouts(db: pw.Database, users: list[int], products: list[int], round_: int) -> None:
    """One checkout per customer: three batches, as the server's writer would see them."""
    run_batch(
        db,
        [[i, job_name(change_cart), [u, products[i], 1, True, "IDR"]] for i, u in enumerate(users)],
    )
    begun = run_batch(
        db,
        [
            [i, job_name(begin_checkout), [u, f"{round_}-{i}", "print", "card", "IDR", "fake"]]
            for i, u in enumerate(users)
        ],
    )
    orders = [unpackb(value)["order"]["id"] for _, ok, value in begun["done"] if ok]
    assert len(orders) == len(users), "a bench checkout failed"
    run_batch(db, [[i, job_name(mark_paid), [o, "ref", "paid"]] for i, o in enumerate(orders)])


def floor_statements(db: pw.Database, users: list[int], products: list[int], round_: int) -> None:
    conn = db.connection()
    conn.execute("BEGIN IMMEDIATE")
    for user, product in zip(users, products, strict=True):
        floors.checkout(conn.execute, user, product, f"writer-{round_}")
    conn.execute("COMMIT")


def baseline(db: pw.Database, users: list[int], products: list[int], round_: int) -> None:
    for _ in range(3):
        run_batch(db, [[i, job_name(select_one), []] for i in range(len(users))])


def measure(step: Any, db: pw.Database, users: list[int], products: list[int], rounds: int) -> str:
    wall, cpu = time.perf_counter(), time.process_time()
    for round_ in range(rounds):
        step(db, users, products, round_)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    done = rounds * len(users)
    return f"{done / wall:>9,.0f}/s   {cpu / done * 1e6:6.0f} µs CPU per checkout"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db, users, products = shop(Path(tmp), args.customers)
        print(f"{args.customers} jobs per batch, {args.rounds} rounds")
        print(f"baseline: SELECT 1 jobs   {measure(baseline, db, users, products, args.rounds)}")
        print(f"checkout jobs             {measure(checkouts, db, users, products, args.rounds)}")
        floor = measure(floor_statements, db, users, products, args.rounds)
        print(f"the floor's statements    {floor}")
        db.close()


if __name__ == "__main__":
    main()
