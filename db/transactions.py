"""Write transactions that take the write lock up front.

On SQLite a plain `BEGIN` is deferred: a transaction that reads and then writes must upgrade its
lock, and in WAL mode that upgrade fails at once with "database is locked" (no busy wait) when
another connection wrote in between. `BEGIN IMMEDIATE` takes the write lock at the start, waiting
up to `busy_timeout` for it, so read-modify-write transactions serialise instead of failing.
On PostgreSQL it is an ordinary transaction (lock rows with `SELECT ... FOR UPDATE` or
conditional `UPDATE`s as usual). Nested, it is a savepoint inside the outer transaction.
"""

from __future__ import annotations

import peewee as pw


def write_transaction(db: pw.Database | pw.DatabaseProxy) -> pw._atomic:
    """`db.atomic()`, beginning with `BEGIN IMMEDIATE` on SQLite (a proxy: on its database)."""
    if isinstance(db, pw.DatabaseProxy) and db.obj is not None:  # else peewee's own error
        db = db.obj
    if isinstance(db, pw.SqliteDatabase):
        return db.atomic(lock_type="IMMEDIATE")
    return db.atomic()
