"""Schema version 5, frozen: never edit it once it has shipped."""

from __future__ import annotations

import peewee as pw

from db.migrations.ddl import dialect, run, sqlite_rebuild


def unused_columns(db: pw.Database) -> None:
    """drop users.failed_logins, users.locked_until and sessions.last_seen_at: nothing read them"""
    if dialect(db) == "postgresql":
        run(
            db,
            """
ALTER TABLE users DROP CONSTRAINT users_failed_logins_check,
    DROP COLUMN failed_logins, DROP COLUMN locked_until;
ALTER TABLE sessions DROP COLUMN last_seen_at;
""",
        )
        return
    # SQLite cannot drop a column that a table CHECK names: rebuild users with every other
    # column and constraint as version 1 made them (users has no index, trigger or view of its
    # own).
    sqlite_rebuild(
        db,
        "users",
        """
    id $id,
    username TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL,
    totp_secret TEXT,
    totp_enabled $bool NOT NULL DEFAULT $false,
    disabled $bool NOT NULL DEFAULT $false,
    created_at $ts NOT NULL DEFAULT $now,
    CONSTRAINT users_username_key UNIQUE (username),
    CONSTRAINT users_username_lower CHECK (username = lower(username)),
    CONSTRAINT users_role_check CHECK (role IN ('customer', 'clerk', 'admin'))
""",
    )
    run(db, "ALTER TABLE sessions DROP COLUMN last_seen_at;")
