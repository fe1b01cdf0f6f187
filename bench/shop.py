"""Bench shops prepared straight in the database before their servers start: a demo shop
whose products hold `stock` units, and `customers` signed-in customers whose session
tokens the bench knows (inserted rows, so no password hash per customer).

SQLite or PostgreSQL (a fresh schema of its own, dropped by `pg_schema`'s exit)."""

from __future__ import annotations

import contextlib
import secrets
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import psycopg2

from bench.fanout import fresh_schema
from bench.load import PASSWORD, clerk_name
from db.accounts import create_user
from db.connect import connect
from db.models import Product, Session, User, utcnow
from server.services.account_sessions import token_hash

SERVER = [sys.executable, "-m", "server.cli"]
CUSTOMER = "bench-customer"  # the floors' buyer


@dataclass
class Shop:
    url: str
    product_ids: list[int]  # every product, in id order
    tokens: list[str]  # one session token per customer


def prepare(url: str, stock: int, customers: int, clerks: int = 0) -> Shop:
    """`init --demo` at `url`, every product's stock set to `stock`, `customers` signed-in
    customers and `clerks` clerks (`bench.load.clerk_name`, password `PASSWORD`)."""
    subprocess.run([*SERVER, "init", "--db", url, "--demo"], check=True, capture_output=True)
    db = connect(url)
    try:
        with db.atomic():
            Product.update(stock=stock, initial_stock=stock).execute()
            tokens = _customers(customers)
            _clerks(clerks)
        ids = [p.id for p in Product.select(Product.id).order_by(Product.id)]
    finally:
        db.close()
    return Shop(url, ids, tokens)


def _customers(count: int) -> list[str]:
    """`CUSTOMER` and `count` customers sharing its password hash, each signed in once."""
    password_hash = create_user(CUSTOMER, PASSWORD, "customer").password_hash
    tag = secrets.token_hex(3)
    now = utcnow()
    for start in range(0, count, 500):
        names = [f"flash{tag}-{i}" for i in range(start, min(count, start + 500))]
        User.insert_many(
            [{"username": n, "password_hash": password_hash, "role": "customer"} for n in names]
        ).execute()
    users = User.select(User.id).where(User.username.startswith(f"flash{tag}-"))
    tokens = []
    rows = []
    for user in users.order_by(User.id):
        token = secrets.token_urlsafe(24)
        tokens.append(token)
        rows.append(
            {
                "user": user.id,
                "token_hash": token_hash(token),
                "created_at": now,
                "expires_at": now + timedelta(days=1),
                "last_used_at": now,
            }
        )
    for start in range(0, len(rows), 500):
        Session.insert_many(rows[start : start + 500]).execute()
    return tokens


def _clerks(count: int) -> None:
    if not count:
        return
    password_hash = User.get(User.username == CUSTOMER).password_hash
    User.insert_many(
        [
            {"username": clerk_name(i), "password_hash": password_hash, "role": "clerk"}
            for i in range(count)
        ]
    ).execute()


@contextlib.contextmanager
def pg_schema(base: str) -> Iterator[str]:
    """A fresh schema at the PostgreSQL `base`, as a URL; dropped afterwards."""
    schema, url = fresh_schema(base)
    try:
        yield url
    finally:
        with psycopg2.connect(base) as conn, conn.cursor() as cursor:
            cursor.execute(f'DROP SCHEMA "{schema}" CASCADE')
