"""The one idempotency mechanism, in a write job's transaction, on SQLite and PostgreSQL."""

import threading
import time

import peewee as pw
import pytest

from db.models import IdempotencyKey, User
from db.transactions import write_transaction
from protocol.errors import Conflict
from server import idempotency, sql
from server.idempotency import fingerprint, once

RESTOCK = {"product_id": 7, "qty": 3, "reason": "PO-1", "idempotency_key": "k-1"}
PRINT = fingerprint("clerk.restock", RESTOCK)


@pytest.fixture
def clerk(database):
    return User.create(username="kasir", password_hash="x", role="clerk").id


def run_once(database, clerk, applied, print_=PRINT, key="k-1"):
    """`once` in a write transaction; the work counts itself in `applied`."""

    def apply():
        applied.append(len(applied) + 1)
        return {"stock": 10 + len(applied), "when": "now"}

    with write_transaction(database):
        return once(database, clerk, key, print_, sql.now(), apply)


def test_a_repeat_replays_the_first_result_and_applies_nothing(database, clerk):
    applied: list[int] = []
    assert run_once(database, clerk, applied) == ({"stock": 11, "when": "now"}, True)
    assert run_once(database, clerk, applied) == ({"stock": 11, "when": "now"}, False)
    assert applied == [1]
    assert run_once(database, clerk, applied, key="k-2") == ({"stock": 12, "when": "now"}, True)


def test_the_fingerprint_is_the_op_and_its_arguments_but_the_key():
    assert fingerprint("clerk.restock", {**RESTOCK, "idempotency_key": "other"}) == PRINT
    assert fingerprint("clerk.restock", dict(reversed(RESTOCK.items()))) == PRINT
    assert fingerprint("clerk.adjust", RESTOCK) != PRINT
    assert fingerprint("clerk.restock", {**RESTOCK, "qty": 4}) != PRINT


LINES = [{"sku": "TEH", "qty": 2}, {"qty": 1, "sku": "KOPI"}]
CHECKOUT = {
    "idempotency_key": "k-9",
    "payment": {"method": "card", "token": "tok_visa"},
    "lines": LINES,
}


def test_maps_at_any_depth_are_compared_whatever_the_order_of_their_keys():
    shuffled = {
        "lines": [{"qty": 2, "sku": "TEH"}, {"sku": "KOPI", "qty": 1}],
        "payment": {"token": "tok_visa", "method": "card"},
    }
    assert fingerprint("order.checkout", shuffled) == fingerprint("order.checkout", CHECKOUT)
    swapped = {**CHECKOUT, "lines": list(reversed(LINES))}
    assert fingerprint("order.checkout", swapped) != fingerprint("order.checkout", CHECKOUT)


def test_the_fingerprint_of_a_call_stays_what_earlier_builds_stored():
    """Keys claimed before an upgrade are checked against fingerprints stored then."""
    assert fingerprint("order.checkout", CHECKOUT) == (
        "052b23e19d3630492f90b6a3b294056c03a6c4fe7348f83d9f385811c1c4c328"
    )


@pytest.mark.parametrize(
    "other",
    [
        fingerprint("clerk.adjust", RESTOCK),  # another op under the same key
        fingerprint("clerk.restock", {**RESTOCK, "qty": 4}),
    ],
)
def test_a_key_reused_otherwise_is_a_conflict(database, clerk, other):
    applied: list[int] = []
    run_once(database, clerk, applied)
    with pytest.raises(Conflict, match="another op or with other arguments") as reused:
        run_once(database, clerk, applied, print_=other)
    assert reused.value.details == {"field": "idempotency_key"}
    assert applied == [1]


def test_work_that_fails_leaves_the_key_free(database, clerk):
    def refuse():
        raise Conflict("no", {})

    with pytest.raises(Conflict), write_transaction(database):
        once(database, clerk, "k-1", PRINT, sql.now(), refuse)
    assert IdempotencyKey.select().count() == 0
    assert run_once(database, clerk, []) == ({"stock": 11, "when": "now"}, True)


def test_a_key_claimed_by_a_running_checkout_is_in_progress(database, clerk):
    with write_transaction(database):
        assert idempotency.claim(database, clerk, "k-1", PRINT, sql.now())
    with pytest.raises(Conflict, match="in progress") as running:
        run_once(database, clerk, [])
    assert running.value.details == {"field": "idempotency_key", "reason": "in_progress"}


@pytest.mark.pg
def test_two_transactions_racing_one_key_apply_once(database, clerk):
    """As two servers would: the second claim waits for the first transaction, then replays
    what it stored."""
    if not isinstance(database, pw.PostgresqlDatabase):
        pytest.skip("one writer on SQLite: jobs never overlap")
    applied, outcomes = [], {}
    claimed, release = threading.Event(), threading.Event()

    def first():
        def apply():
            row = sql.one(database, "SELECT pg_backend_pid()")
            assert row is not None  # the function answers one row
            outcomes["first_pid"] = row[0]
            claimed.set()
            assert release.wait(30)
            applied.append("first")
            return {"stock": 13}

        with database.atomic():
            outcomes["first"] = once(database, clerk, "k-1", PRINT, sql.now(), apply)
        database.close()

    def second():
        def apply():
            applied.append("second")
            return {"stock": 99}

        try:
            with database.atomic():
                outcomes["second"] = once(database, clerk, "k-1", PRINT, sql.now(), apply)
        finally:
            database.close()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    threads[0].start()
    assert claimed.wait(30)
    threads[1].start()
    wait_for_a_wait_on(database, outcomes.pop("first_pid"))
    release.set()
    for thread in threads:
        thread.join(30)
        assert not thread.is_alive()
    assert outcomes == {"first": ({"stock": 13}, True), "second": ({"stock": 13}, False)}
    assert applied == ["first"]


def wait_for_a_wait_on(database, pid, deadline_s=30.0):
    """Until a connection waits for the transaction of the backend `pid` (the second claim
    for the first)."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        waiting = database.execute_sql(
            "SELECT count(*) FROM pg_stat_activity WHERE %s = ANY(pg_blocking_pids(pid))",
            (pid,),
        ).fetchone()[0]
        if waiting:
            return
        time.sleep(0.02)
    raise AssertionError("the second claim never waited for the first")


def test_a_claim_sent_with_the_next_statement_fails_it_as_taken(database, clerk):
    """`claim_with_next` on a key already claimed: the statement that carries it (at once on
    SQLite, the next one on PostgreSQL in a write batch) raises an error `taken` knows."""
    with write_transaction(database):
        assert idempotency.claim(database, clerk, "k-1", PRINT, sql.now())
    with pytest.raises(pw.IntegrityError) as raised, write_transaction(database):
        idempotency.claim_with_next(database, clerk, "k-1", PRINT, sql.now(), order_id=None)
        sql.one(database, "SELECT 1")
    assert idempotency.taken(raised.value)
    with pytest.raises(pw.IntegrityError) as other, write_transaction(database):
        sql.execute(database, "INSERT INTO users (id, username) VALUES (?, 'x')", (clerk,))
    assert not idempotency.taken(other.value), "another table's conflict is not a claim's"
