"""What the periodic session check costs a server holding many signed-in connections.

Every `session_check_s` (5 s) a server reads the state of each session its connections
hold, in batches of 500 ids, and marks them used at most once a minute
(`server.services.session_check`). This times one check over N held sessions on a real
SQLite file, in process (the reads and the write job run inline, as in the service tests):
the first round, which also writes `last_used_at` for every session, and a later round
within the minute, which only reads.

    python bench/session_check.py [--sessions 10000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any, cast

from twisted.internet.defer import Deferred
from twisted.internet.task import Clock

from db.connect import connect, disconnect
from db.migrations import migrate
from server import sql
from server.dbexec import DatabaseExecutor
from server.security_log import SecurityLog
from server.services.reauth import moment
from server.services.session_check import SessionCheck
from server.session_registry import SessionRegistry
from tests.services.inline_db import InlineDatabase, Recorder, result

T0 = 1_800_000_000.0


def held(db: Any, registry: SessionRegistry, count: int) -> None:
    """`count` live sessions of one customer, each held by a connection in `registry`."""
    sql.execute(
        db, "INSERT INTO users (username, password_hash, role) VALUES ('b', 'x', 'customer')"
    )
    started, ends = moment(T0 - 120), moment(T0 + 86_400)
    with db.atomic():
        for n in range(count):
            session_id = sql.insert(
                db,
                "INSERT INTO sessions (user_id, token_hash, created_at, last_used_at, expires_at, "
                "idle_s) VALUES (1, ?, ?, ?, ?, 3600) RETURNING id",
                (f"h{n}", started, started, ends),
            )
            registry.add(Recorder(), session_id)


def timed(check: SessionCheck) -> float:
    began = time.perf_counter()
    result(Deferred.fromCoroutine(check.run()))
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as where:
        db = connect(f"sqlite:///{Path(where) / 'bench.db'}")
        migrate(db)
        registry, clock = SessionRegistry(), Clock()
        clock.advance(T0)
        held(db, registry, args.sessions)
        check = SessionCheck(
            cast(DatabaseExecutor, InlineDatabase(db)),  # the executor, run inline
            clock,
            registry,
            SecurityLog(clock, lambda _: None),
        )
        first = timed(check)
        clock.advance(5)
        later = timed(check)
        disconnect(db)
    n = args.sessions
    print(f"{n} held sessions: first check (reads, marks used) {first * 1000:.0f} ms")
    print(f"{n} held sessions: a check within the minute (reads only) {later * 1000:.0f} ms")


if __name__ == "__main__":
    main()
