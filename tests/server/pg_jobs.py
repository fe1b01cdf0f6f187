"""Write jobs and helpers the PostgreSQL batch tests share (`test_pg_batch`,
`test_pg_round_trips`; the `pg` fixture is in this folder's conftest)."""

from __future__ import annotations

from typing import Any

import peewee as pw
from twisted.python.failure import Failure

from db.models import Product
from protocol.errors import BadRequest
from server import sql
from server.pg_batch import Job, run_batch
from server.write_jobs import write_job

STOCK = 10  # units of each of the `pg` fixture's products


@write_job
def bump(db: pw.Database, product: int) -> int:
    """Declares no stock: nothing is sent before its own statement (the BEGIN waits too)."""
    return sql.one(  # type: ignore[index]
        db, "UPDATE products SET version = version + 1 WHERE id = ? RETURNING version", (product,)
    )[0]


@write_job
def refuse_at_once(db: pw.Database) -> None:
    """Fails before sending anything: its savepoint never went out."""
    raise BadRequest("refused before any statement", {})


@write_job
def hold_a_bad_statement(db: pw.Database, product: int) -> str:
    """Returns at once, but its waiting statement breaks a CHECK when its job's end sends it."""
    sql.later(db, "UPDATE products SET stock = -1 WHERE id = ?", (product,))
    return "returned"


def stock(db: pw.Database, product: int) -> int:
    return sql.one(db, "SELECT stock FROM products WHERE id = ?", (product,))[0]  # type: ignore[index]


def outcome_error(outcome: Any) -> BaseException:
    assert isinstance(outcome, Failure), outcome
    return outcome.value


def version(product: int) -> int:
    return Product.get_by_id(product).version


def warm(db: pw.Database, *jobs: Job) -> None:
    """Run each job in a batch of its own, so its statements are prepared on this thread's
    connection and a later batch sends them with no PREPARE round trip first."""
    for job in jobs:
        run_batch(db, [Job(job.fn, job.args)])
