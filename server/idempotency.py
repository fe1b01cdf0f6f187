"""Idempotency keys: the one mechanism behind every op that takes an `idempotency_key`.

A client's key is kept in `idempotency_keys`, unique per (user, key), with the fingerprint
of the call that claimed it and, once that call has finished, its packed response. The
fingerprint is the op's name and its arguments but the key, so the same key sent again with
other arguments, or for another op, is `conflict` ("key reused") rather than a replay.

Every function here runs inside a write job, in its transaction:

- An op done in one transaction (`clerk.restock`, `clerk.adjust`, `clerk.refund`) runs its
  work through `once`: claim the key, apply, store the response, all in that transaction. A
  repeat finds the key claimed and gets the stored response back, applying nothing. Two
  servers racing one key on PostgreSQL: the second claim waits on the unique index for the
  first transaction, then finds the key taken and replays what the first stored.
- Checkout, whose payment runs between two transactions, claims the key, if it is free,
  with the statement that reads its cart and the key (`claim_first`), in the first
  transaction: the row read is then its own claim (`own_claim`) or the call's that holds
  the key (a paid order is answered from it). It names its order on the claim
  (`name_order`), stores the response in the second transaction (`store_for_order`), and a
  decline frees the key for another try (`release_order`). A till sale claims its key with
  its order (`claim_with_next`).

Every call that claims a key gives it an order or a response before its transaction
commits, so a row with neither is a claim seen only by the transaction that made it.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import peewee as pw

from protocol.codec import packb, unpackb
from protocol.errors import Conflict
from server import sql

T = TypeVar("T")
KEY_ARG = "idempotency_key"
KEY_CONSTRAINT = "idempotency_keys_user_id_key_key"  # unique (user_id, key), on PostgreSQL
SQLITE_KEY_TAKEN = "UNIQUE constraint failed: idempotency_keys.user_id, idempotency_keys.key"
Stored = tuple[str, bytes | None]  # the fingerprint, the packed response (None: running)
CLAIM = (
    "INSERT INTO idempotency_keys (user_id, key, fingerprint, order_id, created_at, response) "
    "VALUES (?, ?, ?, ?, ?, ?)"
)
CLAIM_IF_FREE = CLAIM + " ON CONFLICT (user_id, key) DO NOTHING"


def fingerprint(op: str, args: Mapping[str, Any]) -> str:
    """What a repeat under the same key must repeat: the op and every argument but the key
    (maps compared whatever the order of their keys)."""
    call = {name: value for name, value in args.items() if name != KEY_ARG}
    return hashlib.sha256(packb([op, _canonical(call)])).hexdigest()


def _canonical(value: Any) -> Any:
    """Maps as lists of [name, value] sorted by name, at every depth. The arguments are
    what msgpack decoded, so a map is a dict: `isinstance(value, Mapping)`, an ABC check,
    cost most of a checkout's fingerprint."""
    kind = type(value)
    if kind is dict:
        return [[name, _canonical(value[name])] for name in sorted(value)]
    if kind is list or kind is tuple:
        return [_canonical(item) for item in value]
    return value


def once(
    db: pw.Database,
    user_id: int,
    key: str | None,
    print_: str,
    now: str,
    apply: Callable[[], T],
) -> tuple[T, bool]:
    """`apply()`'s result, applied once per (user, key) in the caller's transaction, and
    whether this call applied it: the first call claims the key, applies and stores the
    result; a repeat replays it (False: announce nothing, nothing changed). Without a key
    (the argument is optional) every call applies."""
    if key is None:
        return apply(), True
    if not claim(db, user_id, key, print_, now):
        return replay(lookup(db, user_id, key), print_), False
    result = apply()
    sql.execute(
        db,
        "UPDATE idempotency_keys SET response = ? WHERE user_id = ? AND key = ?",
        (packb(result), user_id, key),
    )
    return result, True


def lookup(db: pw.Database, user_id: int, key: str) -> Stored | None:
    """The key's fingerprint and stored response; None if the key is not claimed."""
    found = sql.one(
        db,
        "SELECT fingerprint, response FROM idempotency_keys WHERE user_id = ? AND key = ?",
        (user_id, key),
    )
    return None if found is None else (found[0], found[1])


def replay(stored: Stored | None, print_: str) -> Any:
    """The response stored under a key, if the call repeats the one that claimed it."""
    if stored is None:  # claimed by a checkout that was declined since: try again
        raise key_in_progress()
    their_print, response = stored
    if their_print != print_:
        raise key_reused()
    if response is None:
        raise key_in_progress()
    return unpackb(bytes(response))


def claim(
    db: pw.Database,
    user_id: int,
    key: str,
    print_: str,
    now: str,
    order_id: int | None = None,
    response: Any = None,
) -> bool:
    """Claim the key for this call; False if another call holds it. On PostgreSQL a claim
    racing another transaction's waits for it to end: claim before changing anything.
    A call that finishes in the claim's own transaction may keep its `response` at once."""
    row = _claim_row(user_id, key, print_, now, order_id, response)
    return bool(sql.execute(db, CLAIM_IF_FREE, row).rowcount == 1)


def claim_with_next(
    db: pw.Database,
    user_id: int,
    key: str,
    print_: str,
    now: str,
    order_id: int | None,
    response: Any = None,
) -> None:
    """`claim` the key for the call writing `order_id`, as a statement that waits for the
    job's next one on PostgreSQL (a round trip fewer): if another call holds the key, the
    statement that carries it raises an `IntegrityError` that is `taken`. As `claim`, it
    waits for a racing transaction holding the key."""
    sql.later(db, CLAIM, _claim_row(user_id, key, print_, now, order_id, response))


def claim_first(db: pw.Database, user_id: int, key: str, print_: str, now: str) -> None:
    """Claim the key if it is free, as a statement that goes with the job's next one, which
    must read the key's row: one round trip for both on PostgreSQL. That row is then this
    call's own claim (`own_claim`), or the one of the call that holds the key; a claim
    racing another transaction's waits for it to end, and then reads its row."""
    sql.later(db, CLAIM_IF_FREE, _claim_row(user_id, key, print_, now, None, None))


def own_claim(order_id: int | None, response: bytes | None) -> bool:
    """Whether a key's row, read by the call that ran `claim_first`, is that call's claim:
    it has no order yet and no response, which no committed row lacks both of."""
    return order_id is None and response is None


def name_order(db: pw.Database, user_id: int, key: str, order_id: int) -> None:
    """Name the order written under this call's own claim (`claim_first`) on its key."""
    sql.later(
        db,
        "UPDATE idempotency_keys SET order_id = ? WHERE user_id = ? AND key = ?",
        (order_id, user_id, key),
    )


def _claim_row(
    user_id: int, key: str, print_: str, now: str, order_id: int | None, response: Any
) -> tuple[Any, ...]:
    return (user_id, key, print_, order_id, now, None if response is None else packb(response))


def taken(error: pw.IntegrityError) -> bool:
    """Whether `error` is a claim's (`claim_with_next`): another call holds the key."""
    cause = error.__context__  # psycopg2's or sqlite3's error, which peewee wrapped
    if isinstance(cause, sqlite3.IntegrityError):
        return str(cause) == SQLITE_KEY_TAKEN
    return getattr(getattr(cause, "diag", None), "constraint_name", None) == KEY_CONSTRAINT


def store_for_order(db: pw.Database, order_id: int, response: Any) -> None:
    """Keep the response of the call that claimed its key for `order_id`."""
    sql.later(
        db,
        "UPDATE idempotency_keys SET response = ? WHERE order_id = ?",
        (packb(response), order_id),
    )


def release_order(db: pw.Database, order_id: int) -> None:
    """Free the key claimed for `order_id`, so it may be tried again."""
    sql.later(db, "DELETE FROM idempotency_keys WHERE order_id = ?", (order_id,))


def key_in_progress() -> Conflict:
    return Conflict(
        "a call with this idempotency key is still in progress: retry in a moment",
        {"field": KEY_ARG, "reason": "in_progress"},
    )


def key_reused() -> Conflict:
    return Conflict(
        "this idempotency key was used for another op or with other arguments",
        {"field": KEY_ARG},
    )
