"""The server's own work on its database, outside any service: make it ready before the
reactor starts, read the shop's settings, and checkpoint SQLite's write-ahead log."""

from __future__ import annotations

import secrets
import sys
from typing import Any

import peewee as pw

from db.accounts import create_user
from db.connect import connect
from db.demo import load_demo
from db.migrations import migrate, what_migrate_did
from db.models import Product, User
from db.url import parse_url, resolve
from protocol.rules import DEMO_ACCOUNT_LINE, ROLES
from server import sql
from server.cursors import KEY_BYTES

CURSOR_KEY_SETTING = "cursor_key"


def prepare_database(url: str | None, demo: bool) -> pw.Database:
    """Open, migrate and (with `demo`) fill the database. Runs before the reactor starts."""
    db = connect(url, pragmas={"wal_autocheckpoint": 0})
    before, after = migrate(db)
    if before != after:  # the first server of a new version migrates: the journal keeps it
        where = parse_url(resolve(url)).describe()
        print(f"{where}: {what_migrate_did(before, after)}", file=sys.stderr, flush=True)
    if demo and not Product.select().exists():
        shop = load_demo(db)
        print(f"loaded the demo shop: {shop.products} products", file=sys.stderr)
    if demo and not User.select().exists():
        for role in ROLES:
            password = secrets.token_urlsafe(9)
            create_user(role, password, role)
            print(DEMO_ACCOUNT_LINE.format(role=role, password=password), flush=True)
    db.close()
    return db


def read_shop(db: pw.Database) -> dict[str, Any]:
    """The shop as `hello` describes it, from its settings. Runs before the reactor starts."""
    settings = dict(sql.rows(db, "SELECT key, value FROM settings"))
    db.close()
    return {
        "name": settings.get("shop_name", "warung"),
        "currency": settings.get("currency", "IDR"),
        "currency_exponent": int(settings.get("currency_exponent", "2")),
    }


def cursor_key(db: pw.Database) -> bytes:
    """The shop's secret key for signing cursors (`server.cursors`), made by the first
    server that starts and kept in `settings`, so that every server of one PostgreSQL
    database signs alike and cursors outlive restarts. Two servers starting at once both
    insert; the database keeps one row and both read it back. Runs before the reactor
    starts."""
    sql.execute(
        db,
        "INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING",
        (CURSOR_KEY_SETTING, secrets.token_hex(KEY_BYTES)),
    )
    ((value,),) = sql.rows(db, "SELECT value FROM settings WHERE key = ?", (CURSOR_KEY_SETTING,))
    db.close()
    return bytes.fromhex(value)


def checkpoint_wal(db: pw.Database) -> None:
    """Move the WAL into the database off the commit path (SQLite, with autocheckpoint off)."""
    db.execute_sql("PRAGMA wal_checkpoint(PASSIVE)")
