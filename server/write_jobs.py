"""Write jobs: the functions that change the database, named so another process can run them.

A write job is a module-level function `job(db, *args)` marked with `@write_job`. The
server hands the writer its name and arguments, never a closure, so on SQLite the writes
can run in a process of their own (see `server.writer_process`) and on PostgreSQL on a
thread here, with the same outcome either way: arguments and results are what msgpack
carries (tuples arrive as lists, timestamps as aware datetimes), and an error is a
`WarungError` rebuilt from its code, message and details.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

import peewee as pw
from twisted.python.failure import Failure

from protocol.errors import Unavailable, WarungError
from server.dispatch import internal_error

F = TypeVar("F", bound=Callable[..., Any])
RETRY_AFTER_MS = 1000
PIPE_MAX_FRAME = 1 << 30  # between the server and its own writer: no client limit applies
CONNECTION_ERRORS = (pw.OperationalError, pw.InterfaceError)

_resolved: dict[str, Callable[..., Any]] = {}


def write_job(fn: F) -> F:
    """Mark `fn` as a write job that the writer may run by name."""
    fn.__write_job__ = True  # type: ignore[attr-defined]
    return fn


@dataclass(frozen=True)
class StockLocks:
    """The products whose stock a write job may move, as ids or skus known from its
    arguments or as the lines of customers' carts or of orders (read when its batch begins)."""

    products: tuple[int, ...] = ()
    skus: tuple[str, ...] = ()
    carts: tuple[int, ...] = ()  # user ids
    orders: tuple[int, ...] = ()


def locks_stock(claim: Callable[..., StockLocks]) -> Callable[[F], F]:
    """Declare which products' stock a write job may move: `claim(*args)` with the job's
    arguments (not the database). On PostgreSQL a batch of jobs locks every product its
    jobs declare, in id order in one statement, before running any of them
    (`server.pg_batch`), so two batches never take the same rows in opposite orders."""

    def mark(fn: F) -> F:
        fn.__stock_locks__ = claim  # type: ignore[attr-defined]
        return fn

    return mark


def stock_locks(fn: Callable[..., Any], args: Iterable[Any]) -> StockLocks | None:
    """What `fn` declared with `locks_stock` for these arguments; None if it declared
    nothing, or if its declaration fails on these arguments (the job itself then fails,
    alone, instead of its whole batch)."""
    claim = getattr(fn, "__stock_locks__", None)
    try:
        return None if claim is None else claim(*args)
    except Exception:
        return None


def job_name(fn: Callable[..., Any]) -> str:
    if not getattr(fn, "__write_job__", False):
        raise TypeError(f"{fn.__qualname__} is not marked @write_job")
    return f"{fn.__module__}:{fn.__name__}"


def resolve(name: str) -> Callable[..., Any]:
    """The write job called `name`; only functions marked `@write_job` are found."""
    found = _resolved.get(name)
    if found is None:
        module, _, attr = name.partition(":")
        found = getattr(importlib.import_module(module), attr, None)
        if found is None or not getattr(found, "__write_job__", False):
            raise LookupError(f"no write job called {name}")
        _resolved[name] = found
    return found


def unavailable(reason: str) -> Unavailable:
    return Unavailable(
        f"the database is unavailable ({reason}): try again shortly",
        {"retry_after_ms": RETRY_AFTER_MS},
    )


def error_to_wire(exc: BaseException) -> dict[str, Any]:
    """What a failed job tells the server: its `WarungError`, `unavailable` for a database
    that cannot be reached or stays locked, or else `internal`, logged with its traceback
    (so call this in the `except` block that caught `exc`)."""
    if isinstance(exc, WarungError):
        return exc.to_wire()
    if isinstance(exc, CONNECTION_ERRORS):
        return unavailable(" ".join(str(exc).split())).to_wire()
    return internal_error(Failure(), "a write").to_wire()
