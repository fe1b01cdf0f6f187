"""What a page of `admin.audit.list` costs on a large audit log, per filter.

The log has no index but its primary key: a page walks the ids down from the newest and
keeps the entries its filters match, so a filter that matches often is as quick as no
filter, and one that matches nothing reads the whole table. This prints the mean time of
a page of 20 (the read only, on SQLite, as a reader thread runs it) for each kind of
filter, on a log of N random entries:

    python -m bench.audit_list            # 1,000,000 entries
    python -m bench.audit_list 200000

Run it from the repository root.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

import peewee as pw

from db.migrations import migrate
from server.services.audit_list import audit_page

PAGE = 20
RUNS = 5
ACTIONS = ("clerk.sale", "clerk.restock", "auth.login.ok", "authz.forbidden", "order.ship")
FILTERS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("no filter", {}),
    ("action prefix, common", {"action": "clerk."}),
    ("user, common", {"user_id": 7}),
    ("user by name, common", {"username": "kasir7"}),
    ("target, rare", {"target": "product:7"}),
    ("user, none (whole log)", {"user_id": 10**9}),
    ("days, none (whole log)", {"from": date(2020, 1, 1), "to": date(2020, 1, 2)}),
)


def fill(db: pw.Database, entries: int) -> None:
    rng = random.Random(1)
    insert = (
        "INSERT INTO audit_log (user_id, action, target, details, created_at) "
        "VALUES (?, ?, ?, ?, ?)"
    )
    rows = (
        (
            rng.randint(1, 50),
            rng.choice(ACTIONS),
            f"product:{rng.randint(1, 20_000)}",
            '{"reason":"bench"}',
            "2026-11-30 10:00:00",
        )
        for _ in range(entries)
    )
    people = ((f"kasir{n}", "x", "clerk") for n in range(1, 51))
    with db.atomic():
        db.cursor().executemany(
            "INSERT INTO users (username, password_hash, role) VALUES (?, ?, ?)",
            people,
        )
        db.cursor().executemany(insert, rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("entries", type=int, nargs="?", default=1_000_000)
    entries = parser.parse_args().entries
    with tempfile.TemporaryDirectory() as where:
        db = pw.SqliteDatabase(str(Path(where) / "audit.db"))
        db.connect()
        migrate(db)
        fill(db, entries)
        print(f"a page of {PAGE} of {entries:,} audit entries (mean of {RUNS}):")
        for name, filters in FILTERS:
            start = time.perf_counter()
            for _ in range(RUNS):
                audit_page(db, filters, None, PAGE + 1)
            print(f"  {name:<24} {(time.perf_counter() - start) / RUNS * 1000:8.1f} ms")
        db.close()


if __name__ == "__main__":
    main()
