"""The dialect placeholders of the migrations' DDL, and running it."""

from __future__ import annotations

from string import Template

import peewee as pw

_DIALECT = {
    "sqlite": {
        "id": "INTEGER PRIMARY KEY AUTOINCREMENT",
        "ts": "DATETIME",
        "now": "CURRENT_TIMESTAMP",
        "bool": "INTEGER",
        "false": "0",
        "money": "INTEGER",
        "blob": "BLOB",
    },
    "postgresql": {
        "id": "SERIAL PRIMARY KEY",
        "ts": "TIMESTAMP",
        "now": "(now() AT TIME ZONE 'utc')",
        "bool": "BOOLEAN",
        "false": "FALSE",
        "money": "BIGINT",
        "blob": "BYTEA",
    },
}


def dialect(db: pw.Database) -> str:
    """The key of `db`'s placeholders in `_DIALECT`: "postgresql" or "sqlite"."""
    return "postgresql" if isinstance(db, pw.PostgresqlDatabase) else "sqlite"


def run(db: pw.Database, script: str) -> None:
    """Execute `script`: statements separated by `;` at the end of a line."""
    sql = Template(script).substitute(_DIALECT[dialect(db)])
    for statement in sql.split(";\n"):
        if statement.strip():
            db.execute_sql(statement)


def sqlite_rebuild(db: pw.Database, table: str, columns: str, indexes: str = "") -> None:
    """Give SQLite's `table` the definition `columns` (with its constraints) and `indexes`.

    SQLite can neither drop a column that a CHECK names nor change a CHECK in place: this is its
    documented procedure (https://sqlite.org/lang_altertable.html#otheralter). The rows keep
    every column the new definition still has, and the AUTOINCREMENT counter moves over so that
    no id is ever reused.
    """
    new = f"{table}_new"
    run(db, f"CREATE TABLE {new} ({columns});")
    kept = ", ".join(row[1] for row in db.execute_sql(f"PRAGMA table_info({new})"))
    run(
        db,
        f"""
INSERT INTO {new} ({kept}) SELECT {kept} FROM {table};
DELETE FROM sqlite_sequence WHERE name = '{new}';
UPDATE sqlite_sequence SET name = '{new}' WHERE name = '{table}';
DROP TABLE {table};
ALTER TABLE {new} RENAME TO {table};
{indexes}""",
    )
