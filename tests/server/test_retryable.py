"""Which PostgreSQL write failures `server.pg_batch` runs again: serialization failures and
deadlocks, raw or as peewee wraps them."""

from __future__ import annotations

import peewee as pw

from server.pg_batch import retryable as _retryable


def psycopg2_error(pgcode: str) -> Exception:
    """An error as psycopg2 raises it: of a DB-API class peewee wraps, with its `pgcode`."""

    class OperationalError(Exception):
        pass

    error = OperationalError("could not serialize access")
    error.pgcode = pgcode  # type: ignore[attr-defined]
    return error


def as_peewee_raises(error: Exception) -> Exception:
    try:
        with pw.__exception_wrapper__:  # type: ignore[attr-defined]  # peewee-stubs omit it
            raise error
    except pw.OperationalError as wrapped:
        return wrapped
    raise AssertionError("peewee did not wrap it")


def test_a_deadlock_or_serialization_failure_is_retried_raw_or_wrapped():
    for code in ("40P01", "40001"):
        assert _retryable(psycopg2_error(code))
        assert _retryable(as_peewee_raises(psycopg2_error(code)))


def test_other_failures_are_not_retried():
    assert not _retryable(psycopg2_error("23505"))
    assert not _retryable(as_peewee_raises(psycopg2_error("23505")))
    assert not _retryable(ValueError("no pgcode"))
