"""`server.sql` on SQLite: statements on the raw connection, errors as peewee's classes."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta

import peewee as pw
import pytest

from server import sql


@pytest.fixture
def db() -> pw.SqliteDatabase:
    db = pw.SqliteDatabase(":memory:")
    sql.execute(db, "CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT NOT NULL)")
    return db


def test_a_statement_returns_its_cursor(db: pw.SqliteDatabase) -> None:
    assert sql.insert(db, "INSERT INTO t (v) VALUES (?) RETURNING k", ("a",)) == 1
    assert sql.rows(db, "SELECT k, v FROM t") == [(1, "a")]


@pytest.mark.parametrize(
    ("statement", "params", "kind"),
    [
        ("INSERT INTO t (k, v) VALUES (1, 'b')", (), pw.IntegrityError),
        ("INSERT INTO t (v) VALUES (?)", (None,), pw.IntegrityError),
        ("SELECT nothing FROM t", (), pw.OperationalError),
    ],
)
def test_errors_are_raised_as_peewees_classes(
    db: pw.SqliteDatabase, statement: str, params: tuple[object, ...], kind: type[Exception]
) -> None:
    sql.execute(db, "INSERT INTO t (k, v) VALUES (1, 'a')")
    with pytest.raises(kind) as raised:
        sql.execute(db, statement, params)
    assert isinstance(raised.value.__context__, sqlite3.Error)


@pytest.mark.parametrize(
    "ns",
    [
        1_764_518_317_101_167_000,  # within a second
        1_764_518_317_101_167_999,  # nanoseconds beyond the microsecond are dropped
        1_764_518_317_000_000_000,  # on the second: no fraction, as str() writes it
        1_764_518_318_000_000_500,
        951_782_400_000_001_000,  # 2000-02-29, the first microsecond
    ],
)
def test_a_time_reads_as_the_text_of_its_naive_utc_datetime(ns: int) -> None:
    second, rest = divmod(ns, 1_000_000_000)
    moment = datetime.fromtimestamp(second, UTC).replace(tzinfo=None, microsecond=rest // 1000)
    sql.text_time(ns - 3_000_000_000)  # another second first: the kept text is replaced
    assert sql.text_time(ns) == str(moment)
    assert sql.text_time(ns) == str(moment)  # and again, from the kept text


def test_now_is_the_current_time() -> None:
    before = datetime.now(UTC).replace(tzinfo=None)
    written = datetime.fromisoformat(sql.now())
    assert before - timedelta(microseconds=1) <= written <= datetime.now(UTC).replace(tzinfo=None)
