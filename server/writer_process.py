"""The SQLite writer: one process that runs every write of one server, with group commit.

SQLite takes one writer at a time, so all writes go through one connection, here: the
writer takes every job waiting on its pipe, runs each in its own savepoint of one
transaction (one failing job rolls back only itself) and commits them together. It is a
process rather than a thread so that its Python work does not queue for the server's GIL
behind the reactor's: each gets a core.

The pipe carries warung frames (`protocol.framing`):

- server to writer, on stdin: `{"jobs": [[id, name, args], ...]}`;
- writer to server, on stdout: `{"ready": pid}` once the database is open, then one
  `{"done": [[id, true, packed result] | [id, false, error map], ...], "busy_s": s}` per
  commit. An outcome is sent only after its commit, so nothing the server does with it
  (answering, publishing events) can happen for a change that is rolled back.

Between batches, and when no job has come for a second, it also keeps the WAL bounded with
TRUNCATE checkpoints (`server.wal`), which take the write lock: here they wait for no one.

The writer ignores SIGINT and SIGTERM, which a terminal or a service manager may send to
the whole process group: the server decides when to stop, by closing stdin, and the writer
then finishes the jobs it holds and exits. If the server dies, stdin closes just the same.

    python -m server.writer_process DATABASE_URL
"""

from __future__ import annotations

import os
import select
import signal
import sys
import time
from typing import Any, BinaryIO

import peewee as pw
from twisted.logger import ILogObserver, Logger, globalLogBeginner, textFileLogObserver

from db.connect import DatabaseUnavailable, connect
from db.transactions import write_transaction
from protocol.codec import packb, unpackb_own
from protocol.framing import FrameDecoder, Message, encode
from server.wal import WalKeeper
from server.write_jobs import PIPE_MAX_FRAME, error_to_wire, resolve

MAX_BATCH = 256
READ_SIZE = 1 << 20

log = Logger()


def run_batch(db: pw.Database, jobs: list[list[Any]]) -> dict[str, Any]:
    """Run `jobs` in one transaction, a savepoint each; their outcomes, after the commit."""
    began = time.perf_counter()
    try:
        with write_transaction(db):
            done = [[job_id, *run_savepoint(db, name, args)] for job_id, name, args in jobs]
    except Exception as exc:  # BEGIN or COMMIT failed: no job of the batch happened
        error = error_to_wire(exc)
        done = [[job_id, False, error] for job_id, _, _ in jobs]
    return {"done": done, "busy_s": time.perf_counter() - began}


def run_savepoint(db: pw.Database, name: str, args: list[Any]) -> tuple[bool, Any]:
    """One job in its own savepoint (plain SQL: peewee's savepoints cost 8x more)."""
    conn = db.connection()
    conn.execute("SAVEPOINT job")
    try:
        result = packb(resolve(name)(db, *args))  # a result that cannot travel is a failure
    except Exception as exc:
        conn.execute("ROLLBACK TO job")
        conn.execute("RELEASE job")
        return False, error_to_wire(exc)
    conn.execute("RELEASE job")
    return True, result


def serve_pipe(db: pw.Database, jobs_in: int, out: BinaryIO, wal: WalKeeper | None = None) -> None:
    """Run job batches from `jobs_in` until it closes, answering on `out`; with `wal`, keep
    the WAL bounded after commits and when no job comes."""
    decoder = FrameDecoder(PIPE_MAX_FRAME, unpack=unpackb_own)
    while chunk := _read(jobs_in, wal):
        waiting: list[list[Any]] = []
        for event in decoder.feed(chunk):
            if not isinstance(event, Message):
                raise event  # the server wrote it: the pipe is out of step, stop loudly
            waiting.extend(event.body["jobs"])
        for start in range(0, len(waiting), MAX_BATCH):
            out.write(encode(run_batch(db, waiting[start : start + MAX_BATCH])))
            out.flush()
            if wal is not None:
                wal.committed()


def _read(jobs_in: int, wal: WalKeeper | None) -> bytes:
    """The next bytes of the pipe (empty once it closes); while none come, `wal.idle()`."""
    while wal is not None and not select.select([jobs_in], [], [], wal.idle_timeout())[0]:
        wal.idle()
    return os.read(jobs_in, READ_SIZE)


def main(argv: list[str] | None = None) -> int:
    (url,) = argv if argv is not None else sys.argv[1:]
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.SIG_IGN)
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # a stray print must not corrupt the pipe
    observer = ILogObserver(textFileLogObserver(sys.stderr))  # as the type mypy can read
    globalLogBeginner.beginLoggingTo([observer], redirectStandardIO=False)
    try:
        db = connect(url, pragmas={"wal_autocheckpoint": 0}, create=False)
    except DatabaseUnavailable as exc:
        print(f"warung writer: {exc}", file=sys.stderr)
        return 1
    out.write(encode({"ready": os.getpid()}))
    out.flush()
    serve_pipe(db, 0, out, WalKeeper(db))
    db.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
