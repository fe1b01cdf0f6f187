"""The SQLite writer's group commit, job by job, and its pipe, without the server around it."""

from __future__ import annotations

import io
import os
import threading
from pathlib import Path
from typing import Any

import peewee as pw
import pytest

from protocol.codec import unpackb
from protocol.errors import ErrorCode, NotFound
from protocol.framing import encode
from server import sql
from server.write_jobs import PIPE_MAX_FRAME, job_name, write_job
from server.writer_process import run_batch, serve_pipe
from tests.server.frames import bodies


@write_job
def add_note(db: pw.Database, text: str) -> dict[str, object]:
    note_id = sql.insert(db, "INSERT INTO notes (text) VALUES (?) RETURNING id", (text,))
    return {"id": note_id, "text": text}


@write_job
def add_then_refuse(db: pw.Database, text: str) -> None:
    add_note(db, text)
    raise NotFound(f"no {text}", {"what": text})


@write_job
def add_then_crash(db: pw.Database, text: str) -> None:
    add_note(db, text)
    raise RuntimeError("a bug")


@write_job
def add_then_return_unpackable(db: pw.Database, text: str) -> object:
    add_note(db, text)
    return object()


@write_job
def locked(db: pw.Database) -> None:
    raise pw.OperationalError("database is locked")


def not_a_job(db: pw.Database) -> None:
    sql.execute(db, "DELETE FROM notes")


@pytest.fixture
def db(tmp_path: Path) -> pw.Database:
    database = pw.SqliteDatabase(str(tmp_path / "w.db"), pragmas={"journal_mode": "wal"})
    database.execute_sql("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL)")
    return database


def notes(db: pw.Database) -> list[str]:
    return [row[0] for row in sql.rows(db, "SELECT text FROM notes ORDER BY id")]


def outcomes(batch: dict[str, Any]) -> dict[int, tuple[bool, Any]]:
    return {job_id: (ok, unpackb(value) if ok else value) for job_id, ok, value in batch["done"]}


def test_a_failing_job_rolls_back_only_itself(db: pw.Database) -> None:
    batch = run_batch(
        db,
        [
            [1, job_name(add_note), ["a"]],
            [2, job_name(add_then_refuse), ["b"]],
            [3, job_name(add_note), ["c"]],
        ],
    )
    done = outcomes(batch)
    assert done[1] == (True, {"id": 1, "text": "a"})
    assert done[2] == (False, {"code": "not_found", "message": "no b", "details": {"what": "b"}})
    assert done[3][0] is True
    assert notes(db) == ["a", "c"]
    assert batch["busy_s"] > 0


def test_a_bug_is_internal_with_a_reference_and_rolled_back(db: pw.Database) -> None:
    done = outcomes(run_batch(db, [[7, job_name(add_then_crash), ["x"]]]))
    ok, error = done[7]
    assert not ok
    assert error["code"] == ErrorCode.INTERNAL
    assert error["details"]["reference"] in error["message"]
    assert notes(db) == []


def test_a_result_that_cannot_travel_fails_before_the_commit(db: pw.Database) -> None:
    done = outcomes(run_batch(db, [[1, job_name(add_then_return_unpackable), ["x"]]]))
    assert done[1][0] is False
    assert done[1][1]["code"] == ErrorCode.INTERNAL
    assert notes(db) == []


def test_a_database_error_is_unavailable_with_a_retry_hint(db: pw.Database) -> None:
    ok, error = outcomes(run_batch(db, [[1, job_name(locked), []]]))[1]
    assert not ok
    assert error["code"] == ErrorCode.UNAVAILABLE
    assert "database is locked" in error["message"]
    assert error["details"]["retry_after_ms"] > 0


def test_only_marked_functions_run(db: pw.Database) -> None:
    with pytest.raises(TypeError):
        job_name(not_a_job)
    unmarked = f"{not_a_job.__module__}:{not_a_job.__name__}"
    done = outcomes(run_batch(db, [[1, job_name(add_note), ["kept"]], [2, unmarked, []]]))
    assert done[2][1]["code"] == ErrorCode.INTERNAL
    assert notes(db) == ["kept"]


def test_a_batch_whose_commit_fails_reports_every_job_unavailable(db: pw.Database) -> None:
    other = pw.SqliteDatabase(db.database, pragmas={"busy_timeout": 0})
    db.execute_sql("PRAGMA busy_timeout = 0")
    other.execute_sql("BEGIN IMMEDIATE")  # another process holds the write lock
    try:
        batch = run_batch(db, [[1, job_name(add_note), ["a"]], [2, job_name(add_note), ["b"]]])
    finally:
        other.execute_sql("ROLLBACK")
    assert [(ok, error["code"]) for _, ok, error in batch["done"]] == [
        (False, ErrorCode.UNAVAILABLE),
        (False, ErrorCode.UNAVAILABLE),
    ]
    assert notes(db) == []


def test_the_pipe_answers_every_job_after_its_commit_and_stops_at_eof(db: pw.Database) -> None:
    jobs_in, jobs_out = os.pipe()
    answers = io.BytesIO()
    worker = threading.Thread(target=serve_pipe, args=(db, jobs_in, answers))
    worker.start()
    with os.fdopen(jobs_out, "wb") as pipe:
        for i in range(300):  # more than one batch's worth
            pipe.write(encode({"jobs": [[i, job_name(add_note), [f"n{i}"]]]}))
    worker.join(10)
    assert not worker.is_alive()
    os.close(jobs_in)
    answered = {}
    for body in bodies(answers.getvalue(), PIPE_MAX_FRAME):
        answered.update(outcomes(body))
    assert sorted(answered) == list(range(300))
    assert all(ok for ok, _ in answered.values())
    assert len(notes(db)) == 300
