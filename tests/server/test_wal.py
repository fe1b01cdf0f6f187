"""The writer's TRUNCATE checkpoint policy on a real SQLite file, with a clock the test turns."""

from __future__ import annotations

from pathlib import Path

import peewee as pw
import pytest

from server import sql
from server.wal import IDLE_S, WalKeeper


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def open_db(path: Path) -> pw.Database:
    return pw.SqliteDatabase(
        str(path), pragmas={"journal_mode": "wal", "wal_autocheckpoint": 0, "busy_timeout": 4321}
    )


@pytest.fixture
def db(tmp_path: Path) -> pw.Database:
    database = open_db(tmp_path / "w.db")
    database.execute_sql("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL)")
    return database


def write(db: pw.Database, rows: int = 200) -> None:
    with db.atomic():
        for i in range(rows):
            sql.execute(db, "INSERT INTO notes (text) VALUES (?)", ("x" * 500 + str(i),))


def test_past_the_limit_a_commit_truncates_the_wal_to_nothing(db: pw.Database) -> None:
    keeper = WalKeeper(db, limit_bytes=256 << 10, clock=Clock())
    write(db)
    keeper.committed()
    assert 0 < keeper.wal_bytes() < 256 << 10  # under the limit: left alone
    while keeper.wal_bytes() <= 256 << 10:
        write(db)
    keeper.committed()
    assert keeper.wal_bytes() == 0
    assert keeper.truncations == 1
    assert sql.rows(db, "SELECT count(*) FROM notes")[0][0] > 200  # nothing lost


def test_idle_writes_are_truncated_and_an_idle_writer_waits_for_ever(db: pw.Database) -> None:
    keeper = WalKeeper(db, clock=Clock())
    assert keeper.idle_timeout() is None
    write(db)
    keeper.committed()
    assert keeper.idle_timeout() == IDLE_S and keeper.wal_bytes() > 0
    keeper.idle()
    assert keeper.wal_bytes() == 0
    assert keeper.idle_timeout() is None


def hold_snapshot(tmp_path: Path) -> pw.Database:
    """A reader that holds its snapshot of the WAL until it commits."""
    reader = open_db(tmp_path / "w.db")
    reader.execute_sql("BEGIN")
    reader.execute_sql("SELECT count(*) FROM notes").fetchone()
    return reader


def tries_while_writing(keeper: WalKeeper, clock: Clock, until: float) -> list[float]:
    """Commit every 1/8 s until `until`: when a truncation was tried and given up."""
    tries = []
    while clock.now < until:
        clock.now += 0.125
        gave_up = keeper.gave_up
        write(keeper.db, rows=10)
        keeper.committed()
        if keeper.gave_up > gave_up:
            tries.append(clock.now)
    return tries


def test_a_reader_on_an_old_snapshot_makes_it_give_up_and_retry_later_each_time(
    db: pw.Database, tmp_path: Path
) -> None:
    clock = Clock()
    keeper = WalKeeper(db, limit_bytes=1, first_retry_s=0.25, retry_s=1.0, wait_ms=10, clock=clock)
    write(db)
    reader = hold_snapshot(tmp_path)
    write(db)
    try:
        assert keeper.truncate() is False
        stuck = keeper.wal_bytes()
        assert stuck > 0
        assert tries_while_writing(keeper, clock, until=2.5) == [0.25, 0.75, 1.75]
    finally:
        reader.execute_sql("COMMIT")
    assert keeper.wal_bytes() > stuck and keeper.truncations == 0
    assert tries_while_writing(keeper, clock, until=2.75) == []  # the retry due at 2.75 ...
    assert keeper.wal_bytes() == 0 and keeper.truncations == 1  # ... cut it
    # the busy timeout the writer's own statements rely on is back
    assert db.execute_sql("PRAGMA busy_timeout").fetchone()[0] == 4321
    # and the next reader that holds on is retried soon again
    reader = hold_snapshot(tmp_path)
    write(db)
    try:
        assert tries_while_writing(keeper, clock, until=3.5) == [2.875, 3.125]
    finally:
        reader.execute_sql("COMMIT")
