"""Schema version 6, frozen: never edit it once it has shipped."""

from __future__ import annotations

import peewee as pw

from db.migrations.ddl import run


def account_security(db: pw.Database) -> None:
    """single-use TOTP steps, recovery codes, sessions' last use, address, client and end"""
    run(
        db,
        """
ALTER TABLE users ADD COLUMN totp_last_step INTEGER;
ALTER TABLE sessions ADD COLUMN last_used_at $ts;
ALTER TABLE sessions ADD COLUMN address TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN client TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN idle_s INTEGER NOT NULL DEFAULT 2592000;
UPDATE sessions SET last_used_at = created_at;
CREATE TABLE recovery_codes (
    id $id,
    user_id INTEGER NOT NULL REFERENCES users (id),
    code_hash TEXT NOT NULL,
    used_at $ts,
    CONSTRAINT recovery_codes_user_id_code_hash_key UNIQUE (user_id, code_hash)
);
""",
    )
