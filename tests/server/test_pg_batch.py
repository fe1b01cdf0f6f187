"""PostgreSQL group commit (`server.pg_batch`, `server.pg_writer`) on the real database: a
failing job rolls back alone, a deadlocked one runs again, a job whose products another
transaction holds waits for a later batch, a lost connection fails its whole batch, and
two writers (two servers) racing for the last units sell exactly what there is."""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import peewee as pw
import psycopg2
import pytest
from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

from db.connect import connect, disconnect
from db.models import Product, StockMovement
from protocol.errors import BadRequest, OutOfStock, Unavailable
from server import sql
from server.pg_batch import CONNECTION_ERRORS, Job, run_batch
from server.pg_writer import PgWriter
from server.services.cart import out_of_stock
from server.services.stock import ShortOfStock, move_stock
from server.write_jobs import StockLocks, locks_stock, write_job
from tests.e2e.harness import wait_until
from tests.server.pg_jobs import (
    STOCK,
    bump,
    hold_a_bad_statement,
    outcome_error,
    refuse_at_once,
    stock,
)
from tests.server.test_register_race import waits_for

pytestmark = pytest.mark.pg


@dataclass
class Deadlock:
    """What the deadlock test's job and its outside transaction tell each other."""

    holds_x: threading.Event = field(default_factory=threading.Event)
    outside_waits: threading.Event = field(default_factory=threading.Event)
    runs: int = 0


_deadlock = Deadlock()


@write_job
@locks_stock(lambda *products: StockLocks(products=products))
def take(db: pw.Database, *products: int) -> list[int]:
    """One unit of each product, in the order given (not id order: the batch's lock
    statement must have taken them already); the stock left of each."""
    left = []
    for product in products:
        try:
            left.append(move_stock(db, product, -1, "adjustment", now=sql.now()).stock)
        except ShortOfStock as short:
            raise out_of_stock(product, 1, short.available) from None
    return left


@write_job
def take_then_refuse(db: pw.Database, product: int) -> None:
    move_stock(db, product, -1, "adjustment", now=sql.now())
    raise BadRequest("refused after writing", {})


class Escape(BaseException):
    """Not an `Exception`: what no job's error handling catches."""


@write_job
@locks_stock(lambda product: StockLocks(products=(product, 1 // 0)))
def escape(db: pw.Database, product: int) -> None:
    """Declares its locks wrongly, takes a unit, then raises past every `except Exception`."""
    move_stock(db, product, -1, "adjustment", now=sql.now())
    raise Escape()


@write_job
def hold_then_refuse(db: pw.Database, product: int) -> None:
    """Leaves a statement waiting (`sql.later`), then fails before it is sent."""
    sql.later(db, "UPDATE products SET version = version + 1 WHERE id = ?", (product,))
    raise BadRequest("refused with a statement waiting", {})


@write_job
def swallow_an_error(db: pw.Database, product: int) -> str:
    """Writes, then hides a failed statement and returns as if all went well."""
    move_stock(db, product, -1, "adjustment", now=sql.now())
    with contextlib.suppress(pw.DataError):
        sql.one(db, "SELECT 1 / 0")
    return "returned"


@write_job
def lose_connection(db: pw.Database) -> None:
    db.execute_sql("SELECT pg_terminate_backend(pg_backend_pid())")


@write_job
def touch_x_then_y(db: pw.Database, x: int, y: int) -> int:
    """Lock product x, then y (declared nowhere); the first run waits, holding x, until an
    outside transaction holding y waits for x: a deadlock."""
    _deadlock.runs += 1
    bump = "UPDATE products SET version = version + 1 WHERE id = %s"
    db.execute_sql(bump, (x,))
    if _deadlock.runs == 1:
        _deadlock.holds_x.set()
        assert _deadlock.outside_waits.wait(30)
    db.execute_sql(bump, (y,))
    return _deadlock.runs


def movements(db: pw.Database) -> int:
    return StockMovement.select().count()


def test_a_failing_job_rolls_back_alone_and_the_others_commit(pg):
    _, db, (p, *_) = pg
    jobs = [Job(take, (p,)), Job(take_then_refuse, (p,)), Job(take, (p,))]
    settled, again = run_batch(db, jobs)
    assert again == []
    assert [job for job, _ in settled] == jobs
    assert settled[0][1] == [STOCK - 1]
    assert isinstance(outcome_error(settled[1][1]), BadRequest)
    assert settled[2][1] == [STOCK - 2], "the refused job's unit came back before the next"
    assert stock(db, p) == STOCK - 2
    assert movements(db) == 2


@pytest.mark.parametrize("where", ["first", "between"])
def test_a_job_refused_before_any_statement_undoes_nothing_of_the_others(pg, where):
    _, db, (p, *_) = pg
    version = Product.get_by_id(p).version
    jobs = [Job(bump, (p,)), Job(refuse_at_once, ()), Job(bump, (p,))]
    if where == "first":  # the batch's BEGIN and its savepoint still wait: they go with the next
        jobs = jobs[1:]
    settled, again = run_batch(db, jobs)
    outcomes = [outcome for _, outcome in settled]
    refused = outcomes.pop([job.fn for job in jobs].index(refuse_at_once))
    assert again == [] and isinstance(outcome_error(refused), BadRequest)
    assert outcomes == [version + i for i in range(1, len(jobs))], "each bump saw the last"
    assert Product.get_by_id(p).version == version + len(jobs) - 1, "every other job committed"


def test_a_job_refused_with_a_statement_waiting_leaves_none_of_it(pg):
    _, db, (p, q, _) = pg
    versions = [Product.get_by_id(i).version for i in (p, q)]
    settled, _ = run_batch(db, [Job(hold_then_refuse, (p,)), Job(take, (q,))])
    assert isinstance(outcome_error(settled[0][1]), BadRequest)
    assert settled[1][1] == [STOCK - 1]
    assert Product.get_by_id(p).version == versions[0], "the waiting UPDATE never ran"
    assert Product.get_by_id(q).version == versions[1] + 1


def test_a_waiting_statement_that_fails_fails_its_own_job_only(pg):
    _, db, (p, q, _) = pg
    settled, again = run_batch(db, [Job(take, (q,)), Job(hold_a_bad_statement, (p,))])
    assert again == [] and settled[0][1] == [STOCK - 1]
    assert isinstance(outcome_error(settled[1][1]), pw.IntegrityError), "sent at its job's end"
    assert stock(db, p) == STOCK and stock(db, q) == STOCK - 1


def test_after_a_failed_job_the_next_prepares_its_statements_once_rolled_back(pg):
    _, db, (p, q, _) = pg
    version = Product.get_by_id(q).version
    db.close_all()  # a new connection: `bump`'s statement is prepared in this batch
    settled, again = run_batch(db, [Job(hold_a_bad_statement, (p,)), Job(bump, (q,))])
    assert again == [] and isinstance(outcome_error(settled[0][1]), pw.IntegrityError)
    assert settled[1][1] == version + 1, "prepared after the rollback to the savepoint"


def test_a_job_that_hides_a_failed_statement_fails_and_the_others_commit(pg):
    _, db, (p, q, _) = pg
    jobs = [Job(swallow_an_error, (p,)), Job(take, (q,))]
    settled, again = run_batch(db, jobs)
    assert again == [] and isinstance(outcome_error(settled[0][1]), pw.InternalError)
    assert settled[1][1] == [STOCK - 1]
    assert stock(db, p) == STOCK and stock(db, q) == STOCK - 1


def test_a_job_whose_products_are_held_runs_in_a_later_batch(pg):
    url, db, (p, q, _) = pg
    outside = psycopg2.connect(url)
    try:
        holder = outside.cursor()
        holder_pid = outside.get_backend_pid()
        holder.execute("SELECT id FROM products WHERE id = %s FOR UPDATE", (p,))
        waiting, free = Job(take, (p,)), Job(take, (q,))
        settled, again = run_batch(db, [waiting, free])
        assert settled == [(free, [STOCK - 1])], "the other job did not wait"
        assert again == [waiting] and waiting.patient

        later: list[Any] = []
        runner = threading.Thread(target=lambda: later.append(run_batch(db, again)))
        runner.start()
        wait_until(lambda: waits_for(db, holder_pid), 30.0, "the patient job waits for p")
        outside.commit()
        runner.join(30)
        assert later == [([(waiting, [STOCK - 1])], [])]
    finally:
        outside.close()


def test_a_taker_of_a_product_with_no_stock_left_is_refused_without_waiting(pg):
    url, db, (p, *_) = pg
    sql.execute(db, "UPDATE products SET stock = 0 WHERE id = ?", (p,))
    outside = psycopg2.connect(url)
    try:
        outside.cursor().execute("SELECT id FROM products WHERE id = %s FOR UPDATE", (p,))
        late = Job(take, (p,))
        ((job, outcome),), again = run_batch(db, [late])
    finally:
        outside.close()
    assert job is late and again == [] and not late.patient
    assert isinstance(outcome_error(outcome), OutOfStock)


def test_a_deadlocked_job_runs_again_and_its_batch_keeps_the_others(pg):
    url, db, (p, x, y) = pg
    _deadlock.runs = 0
    outside = psycopg2.connect(url)
    try:
        cursor = outside.cursor()
        cursor.execute("SET deadlock_timeout = '20s'")  # so the batch's backend is the victim
        cursor.execute("UPDATE products SET version = version + 1 WHERE id = %s", (y,))

        def outside_takes_x() -> None:
            assert _deadlock.holds_x.wait(30)
            _deadlock.outside_waits.set()
            cursor.execute("UPDATE products SET version = version + 1 WHERE id = %s", (x,))
            outside.commit()

        thread = threading.Thread(target=outside_takes_x)
        thread.start()
        deadlocked, other = Job(touch_x_then_y, (x, y)), Job(take, (p,))
        settled, again = run_batch(db, [deadlocked, other])
        thread.join(30)
        assert not thread.is_alive(), "the outside transaction went on once the job let x go"
    finally:
        outside.close()
    assert settled == [(other, [STOCK - 1])]
    assert again == [deadlocked] and deadlocked.attempts == 1
    assert run_batch(db, again) == ([(deadlocked, 2)], [])
    assert stock(db, p) == STOCK - 1


def test_a_lost_connection_fails_every_job_of_its_batch(pg):
    _, db, (p, *_) = pg
    jobs = [Job(take, (p,)), Job(lose_connection, ()), Job(take, (p,))]
    settled, again = run_batch(db, jobs)
    assert again == []
    assert [job for job, _ in settled] == jobs
    for _, outcome in settled:
        assert isinstance(outcome_error(outcome), CONNECTION_ERRORS)
    assert stock(db, p) == STOCK, "nothing of the batch was committed"
    assert run_batch(db, [Job(take, (p,))])[0][0][1] == [STOCK - 1], "a new connection"


class ThreadReactor:
    """What `PgWriter` uses of a reactor: calls from its threads, run here on demand."""

    def __init__(self) -> None:
        self.calls: queue.Queue[tuple[Callable[..., Any], tuple[Any, ...]]] = queue.Queue()

    def callFromThread(self, fn: Callable[..., Any], *args: Any) -> None:
        self.calls.put((fn, args))

    def run_until(self, done: Callable[[], bool], timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while not done():
            fn, args = self.calls.get(timeout=max(0.0, deadline - time.monotonic()))
            fn(*args)

    def outcome(self, deferred: Deferred[Any]) -> Any:
        """Run calls until `deferred` fires; its result or Failure."""
        fired: list[Any] = []
        deferred.addBoth(fired.append)
        self.run_until(lambda: bool(fired))
        return fired[0]


def one_thread_writer(db: pw.Database) -> tuple[ThreadReactor, PgWriter]:
    """A started `PgWriter` of one thread, and the reactor its outcomes come back on."""
    reactor = ThreadReactor()
    writer = PgWriter(db, reactor, threads=1)
    writer.start()
    return reactor, writer


def test_two_writers_racing_for_the_last_units_sell_exactly_what_there_is(pg):
    url, first_db, (p, q, _) = pg
    second_db = connect(url)  # a second server's pool
    reactor = ThreadReactor()
    writers = [PgWriter(db, reactor, threads=3, max_batch=8) for db in (first_db, second_db)]
    outcomes: list[Any] = []
    try:
        for i in range(4 * STOCK):
            pair = (q, p) if i % 2 else (p, q)  # half of them take the higher id first
            writers[i % 2].submit(take, pair).addBoth(outcomes.append)
        for writer in writers:
            writer.start()
        reactor.run_until(lambda: len(outcomes) == 4 * STOCK)
        stopped: list[None] = []
        for writer in writers:
            writer.stop().addCallback(stopped.append)
        reactor.run_until(lambda: len(stopped) == 2)
    finally:
        disconnect(second_db)
    sold = [o for o in outcomes if not isinstance(o, Failure)]
    refused = [outcome_error(o) for o in outcomes if isinstance(o, Failure)]
    assert len(sold) == STOCK
    assert len(refused) == 3 * STOCK and all(isinstance(e, OutOfStock) for e in refused)
    assert stock(first_db, p) == stock(first_db, q) == 0
    assert movements(first_db) == 2 * STOCK
    assert sum(w.writes for w in writers) == STOCK
    assert max(size for w in writers for size in w.batch_sizes) > 1, "jobs shared commits"


def test_a_job_submitted_once_the_writer_stops_fails_at_once_as_unavailable(pg):
    _, db, (p, *_) = pg
    reactor, writer = one_thread_writer(db)
    stopping = writer.stop()
    late: list[Any] = []
    writer.submit(take, (p,)).addBoth(late.append)
    assert isinstance(outcome_error(late[0]), Unavailable)
    reactor.outcome(stopping)
    assert writer.pending == 0 and not writer.up
    assert stock(db, p) == STOCK


def test_a_job_escaping_every_handler_fails_alone_and_the_writer_keeps_serving(pg):
    _, db, (p, *_) = pg
    reactor, writer = one_thread_writer(db)
    assert isinstance(outcome_error(reactor.outcome(writer.submit(escape, (p,)))), Escape)
    after = reactor.outcome(writer.submit(take, (p,)))
    assert after == [STOCK - 1], "the thread still serves; the escaped job's unit is back"
    reactor.outcome(writer.stop())
