"""A PostgreSQL batch's round trips (`server.pg_batch`, `db.held_statements`): what a job
leaves waiting goes with the next job's first round trip, a failure there is the job's
whose statement failed, and a checkout costs the round trips of the statements it reads."""

from __future__ import annotations

import contextlib
from typing import Any

import peewee as pw
import pytest
from twisted.python.failure import Failure

from db.models import CartLine, User
from protocol.errors import BadRequest, OutOfStock
from protocol.rules import OrderStatus
from server import sql
from server.pg_batch import Job, run_batch
from server.services.cart import change_cart
from server.services.order_jobs import begin_checkout, mark_paid
from server.write_jobs import write_job
from tests.server.pg_jobs import (
    STOCK,
    bump,
    hold_a_bad_statement,
    outcome_error,
    refuse_at_once,
    stock,
    version,
    warm,
)

pytestmark = pytest.mark.pg


@write_job
def bump_later(db: pw.Database, product: int) -> str:
    """Reads nothing: its one statement waits for the next job's first round trip."""
    sql.later(db, "UPDATE products SET version = version + 1 WHERE id = ?", (product,))
    return "waited"


@write_job
def catch_integrity(db: pw.Database, product: int) -> int | str:
    """Takes an IntegrityError for its own (a taken name, say) and answers otherwise."""
    try:
        return bump(db, product)
    except pw.IntegrityError:
        return "caught"


@write_job
def divide_by_zero(db: pw.Database) -> None:
    """Fails in its first round trip (as text: a statement's PREPARE would go first)."""
    db.execute_sql("SELECT 1 / 0")


@write_job
def hold_then_swallow(db: pw.Database, product: int) -> str:
    """Leaves a statement waiting, then hides the failure of the round trip that sends it."""
    sql.later(db, "UPDATE products SET version = version + 1 WHERE id = ?", (product,))
    with contextlib.suppress(pw.DataError):
        divide_by_zero(db)
    return "returned"


@pytest.mark.parametrize("prepared", [False, True], ids=["new connection", "prepared"])
def test_a_finished_jobs_waiting_statement_fails_it_not_the_job_whose_round_trip_took_it(
    pg, prepared
):
    _, db, (p, q, _) = pg
    jobs = [Job(hold_a_bad_statement, (p,)), Job(catch_integrity, (q,))]
    if prepared:
        warm(db, *jobs)
    before = version(q)
    settled, again = run_batch(db, jobs)
    assert again == [] and isinstance(outcome_error(settled[0][1]), pw.IntegrityError)
    assert settled[1][1] == before + 1, "the next job ran again, never saw the other's error"
    assert stock(db, p) == STOCK and version(q) == before + 1


@pytest.mark.parametrize("then", [bump, refuse_at_once])
def test_no_round_trip_carries_two_finished_jobs_statements(pg, then):
    """A job that sends nothing while the job before's statements wait sends them with its
    own at its end, so a failure among them is blamed on neither the wrong job nor all."""
    _, db, (p, q, r) = pg
    jobs = [Job(hold_a_bad_statement, (p,)), Job(bump_later, (q,))]
    warm(db, *jobs, Job(bump, (r,)))
    before = version(q), version(r)
    settled, again = run_batch(db, [*jobs, Job(then, (r,) if then is bump else ())])
    assert again == [] and isinstance(outcome_error(settled[0][1]), pw.IntegrityError)
    assert settled[1][1] == "waited" and version(q) == before[0] + 1
    if then is bump:
        assert settled[2][1] == before[1] + 1 == version(r)
    else:
        assert isinstance(outcome_error(settled[2][1]), BadRequest)


def test_the_next_jobs_own_error_in_that_round_trip_is_its_own(pg):
    _, db, (p, *_) = pg
    before = version(p)
    settled, again = run_batch(db, [Job(bump_later, (p,)), Job(divide_by_zero, ())])
    assert again == [] and settled[0][1] == "waited"
    assert isinstance(outcome_error(settled[1][1]), pw.DataError)
    assert version(p) == before + 1, "the finished job's statement committed"


def test_a_job_hiding_its_error_from_that_round_trip_fails_and_keeps_none_of_it(pg):
    _, db, (p, q, _) = pg
    before = version(p), version(q)
    settled, again = run_batch(db, [Job(bump_later, (p,)), Job(hold_then_swallow, (q,))])
    assert again == [] and settled[0][1] == "waited"
    assert isinstance(outcome_error(settled[1][1]), pw.InternalError)
    assert (version(p), version(q)) == (before[0] + 1, before[1])


@pytest.mark.parametrize("then", [[], [Job(bump, ())]], ids=["last", "before another"])
@pytest.mark.parametrize("first", [bump_later, hold_a_bad_statement])
def test_what_a_job_left_waiting_outlives_a_job_refused_before_sending(pg, first, then):
    """The statements wait across the refused job, for the next one's round trip or the
    batch's end, and a failure among them is still the job's that left them."""
    _, db, (p, q, _) = pg
    before = version(p), version(q)
    jobs = [Job(first, (p,)), Job(refuse_at_once, ()), *[Job(j.fn, (q,)) for j in then]]
    settled, again = run_batch(db, jobs)
    assert again == [] and isinstance(outcome_error(settled[1][1]), BadRequest)
    if first is bump_later:
        assert settled[0][1] == "waited" and version(p) == before[0] + 1
    else:
        assert isinstance(outcome_error(settled[0][1]), pw.IntegrityError)
        assert version(p) == before[0] and stock(db, p) == STOCK
    if then:
        assert settled[2][1] == before[1] + 1 == version(q)


class CountingCursor:
    """A psycopg2 cursor that counts the round trips it begins (its `execute`s)."""

    def __init__(self, cursor: Any, sent: list[int]) -> None:
        self._cursor, self._sent = cursor, sent

    def execute(self, *args: Any) -> Any:
        self._sent[0] += 1
        return self._cursor.execute(*args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cursor, name)


def round_trips(
    db: pw.Database, monkeypatch: pytest.MonkeyPatch, *jobs: Job, failing: bool = False
) -> tuple[int, list[Any]]:
    """The round trips of a batch of `jobs` (its COMMIT included), and the jobs' outcomes:
    their results, or with `failing` the Failures they all end with."""
    sent = [0]
    cursor = db.cursor
    with monkeypatch.context() as patch:
        patch.setattr(db, "cursor", lambda *a, **k: CountingCursor(cursor(*a, **k), sent))
        settled, again = run_batch(db, jobs)
    outcomes = [outcome for _, outcome in settled]
    assert not again and all(isinstance(o, Failure) == failing for o in outcomes), outcomes
    return sent[0], outcomes


def test_a_checkout_costs_the_round_trips_of_the_statements_it_reads(pg, monkeypatch):
    """Each statement whose result a job reads is one round trip; what waits goes with it or,
    for a batch's last job, in one more at its end; a batch's BEGIN goes with its first
    statement (a lock statement first when a job declares stock) and its COMMIT is one
    more. `cart.add` of a new product reads the cart with the product; `begin_checkout` the
    cart with its key (its key's claim goes with that read), the order's id and the stock
    left; `mark_paid` the order's new status."""
    _, db, (p, *_) = pg
    user = User.create(username="buyer", password_hash="x", role="customer").id
    for key in ("warm", "counted"):  # the first checkout prepares its statements
        added, _ = round_trips(db, monkeypatch, Job(change_cart, (user, p, 1, True, "IDR")))
        checkout = Job(begin_checkout, (user, key, "print", "card", "IDR", "fake"))
        began, (begun,) = round_trips(db, monkeypatch, checkout)
        paid_job = Job(mark_paid, (begun["order"]["id"], "ref", OrderStatus.PAID))
        paid, _ = round_trips(db, monkeypatch, paid_job)
    end = 1 + 1  # what waits at the job's end, the COMMIT
    assert (added, began, paid) == (1 + end, 1 + 3 + end, 1 + end)


def test_a_short_carts_checkout_is_refused_in_the_round_trip_that_reads_its_cart(pg, monkeypatch):
    """Most checkouts of a flash sale end this way: the key's claim goes with the statement
    that reads the cart and the key, and the refusal needs nothing more but the batch's
    lock statement and its end. The claim is undone with the job."""
    _, db, (p, *_) = pg
    user = User.create(username="late", password_hash="x", role="customer").id
    CartLine.create(user=user, product=p, qty=STOCK + 1)
    for key in ("warm", "counted"):  # the first checkout prepares its statements
        checkout = Job(begin_checkout, (user, key, "print", "card", "IDR", "fake"))
        sent, (refused,) = round_trips(db, monkeypatch, checkout, failing=True)
        assert isinstance(outcome_error(refused), OutOfStock)
    assert sent == 1 + 1 + 1
    assert sql.rows(db, "SELECT key FROM idempotency_keys WHERE user_id = ?", (user,)) == []
    assert stock(db, p) == STOCK


def test_what_a_job_leaves_waiting_goes_with_the_next_jobs_first_round_trip(pg, monkeypatch):
    """Two cart adds in one batch: each reads once, and only the second's waiting
    statements need a round trip of their own before the COMMIT."""
    _, db, (p, q, _) = pg
    users = [User.create(username=f"buyer{i}", password_hash="x", role="customer") for i in (0, 1)]
    adds = [
        Job(change_cart, (users[0].id, p, 1, True, "IDR")),
        Job(change_cart, (users[1].id, q, 1, True, "IDR")),
    ]
    warm(db, *adds)
    sent, _ = round_trips(db, monkeypatch, *adds)
    assert sent == 2 + 1 + 1
    assert [line.qty for line in CartLine.select().order_by(CartLine.user)] == [2, 2]
