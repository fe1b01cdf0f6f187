"""The till: a clerk's register session, opened with the cash in the drawer, read with the
cash it should hold by now, and closed with the cash counted (PROTOCOL.md sections 11.7
and 12.7).

A register belongs to the clerk, not to the connection: it stays open across reconnects
and on every server of the shop. The database holds at most one open register per clerk
(a partial unique index), so two opens at once on two servers leave one open.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import peewee as pw

from db.audit_entry import target_of
from protocol.errors import InvalidState
from protocol.ops import Op
from server import sql, wire
from server.audit import audit
from server.dbexec import Executor, is_postgres
from server.dispatch import Call
from server.services.offline import SKEW
from server.write_jobs import write_job

METHODS = ("cash", "card", "ewallet")
REGISTER_COLUMNS = "id, station, clerk_id, status, opened_at, opening_cash"
OPEN_REGISTER = "FROM registers WHERE clerk_id = ? AND status = 'open'"  # the clerk's, if any
SOLD = "('completed', 'refunded')"  # a sale rung up and paid, whatever became of it since

Register = dict[str, Any]


class RegisterService:
    def __init__(self, dbx: Executor) -> None:
        self.dbx = dbx

    async def open(self, call: Call) -> Register:
        args = call.args
        return await self.dbx.write(
            open_register, call.identity.user_id, args["station"], args["opening_cash"]
        )

    async def close(self, call: Call) -> Register:
        return await self.dbx.write(
            close_register, call.identity.user_id, call.args["counted_cash"]
        )

    async def get(self, call: Call) -> Register:
        clerk_id = call.identity.user_id
        return await self.dbx.read(lambda db: read_open_register(db, clerk_id))


def no_open_register() -> InvalidState:
    return InvalidState(
        "no register is open: open one with clerk.register.open", {"reason": "no_open_register"}
    )


def find_open_register(db: pw.Database, clerk_id: int) -> int | None:
    """The id of the clerk's open register, if there is one, for a sale or refund to land in.

    On PostgreSQL the row is held `FOR SHARE` until the job commits: a close of it running
    meanwhile waits for the job and then counts it, and a job that comes after the close
    waits for it and then finds no open register (SQLite runs one job at a time anyway)."""
    row = sql.one(db, f"SELECT id {OPEN_REGISTER}{_lock(db, 'SHARE')}", (clerk_id,))
    return None if row is None else row[0]


def open_register_id(db: pw.Database, clerk_id: int) -> int:
    """`find_open_register`, or `invalid_state` `no_open_register` if none."""
    register_id = find_open_register(db, clerk_id)
    if register_id is None:
        raise no_open_register()
    return register_id


def offline_register(db: pw.Database, clerk_id: int, offline_at: str) -> tuple[int | None, bool]:
    """The register session an offline sale rung up at `offline_at` belongs to (section
    11.7): the clerk's opened last at or before `offline_at` plus the clock skew allowed,
    open or closed since; and whether it has closed. (None, False) if the clerk had none.

    Held `FOR SHARE` on PostgreSQL as `find_open_register` holds an open one: a close of it
    running meanwhile either counts this sale or is seen to have closed before it."""
    latest = str(datetime.fromisoformat(offline_at) + SKEW)
    row = sql.one(
        db,
        "SELECT id, status FROM registers WHERE clerk_id = ? AND opened_at <= ? "
        f"ORDER BY opened_at DESC, id DESC LIMIT 1{_lock(db, 'SHARE')}",
        (clerk_id, latest),
    )
    return (None, False) if row is None else (row[0], row[1] == "closed")


@write_job
def open_register(db: pw.Database, clerk_id: int, station: str, opening_cash: int) -> Register:
    """Open a register for the clerk, who must have none open (the partial unique index
    `registers_one_open_per_clerk` says so, also for two opens at once on two servers)."""
    now = sql.now()
    try:
        register_id = sql.insert(
            db,
            "INSERT INTO registers (station, clerk_id, status, opened_at, opening_cash) "
            "VALUES (?, ?, 'open', ?, ?) RETURNING id",
            (station, clerk_id, now, opening_cash),
        )
    except pw.IntegrityError:
        raise InvalidState(
            "this clerk already has an open register: close it first",
            {"reason": "register_already_open"},
        ) from None
    audit(
        db,
        clerk_id,
        Op.CLERK_REGISTER_OPEN,
        target_of("register", register_id),
        {"station": station, "opening_cash": opening_cash},
        now,
    )
    return _register_map((register_id, station, clerk_id, "open", now, opening_cash))


def read_open_register(db: pw.Database, clerk_id: int) -> Register:
    """The clerk's open register with the figures its close would compute now."""
    row = _open_register_row(db, clerk_id)
    return {**_register_map(row), **_balance(db, row)}


@write_job
def close_register(db: pw.Database, clerk_id: int, counted_cash: int) -> Register:
    """Close the clerk's open register and balance its cash.

    The row is taken first, its figures computed after: on PostgreSQL `FOR UPDATE` waits
    for the sales and refunds that hold it (`find_open_register`), so the balance counts
    them, and any that come later wait for this close and find the register closed."""
    row = _open_register_row(db, clerk_id, "UPDATE")
    register_id = row[0]
    balance = _balance(db, row)
    expected = balance["expected_cash"]
    now = sql.now()
    sql.execute(
        db,
        "UPDATE registers SET status = 'closed', closed_at = ?, counted_cash = ?, "
        "expected_cash = ? WHERE id = ?",
        (now, counted_cash, expected, register_id),
    )
    difference = counted_cash - expected
    audit(
        db,
        clerk_id,
        Op.CLERK_REGISTER_CLOSE,
        target_of("register", register_id),
        {"expected_cash": expected, "counted_cash": counted_cash, "difference": difference},
        now,
    )
    return {
        **_register_map((*row[:3], "closed", *row[4:])),
        "closed_at": wire.utc(now),
        "expected_cash": expected,
        "counted_cash": counted_cash,
        "difference": difference,
        "by_method": balance["by_method"],
    }


def _lock(db: pw.Database, strength: str) -> str:
    """The row lock clause `FOR <strength>` on PostgreSQL; none on SQLite (one writer)."""
    return f" FOR {strength}" if is_postgres(db) else ""


def _open_register_row(db: pw.Database, clerk_id: int, lock: str = "") -> tuple[Any, ...]:
    """The clerk's open register as a row of `REGISTER_COLUMNS` (locked `FOR <lock>` on
    PostgreSQL if given), or `invalid_state` `no_open_register`."""
    clause = _lock(db, lock) if lock else ""
    row = sql.one(db, f"SELECT {REGISTER_COLUMNS} {OPEN_REGISTER}{clause}", (clerk_id,))
    if row is None:
        raise no_open_register()
    return row


def _balance(db: pw.Database, row: tuple[Any, ...]) -> dict[str, Any]:
    """`expected_cash` and `by_method` of the register in `row`, as they stand now."""
    by_method = _takings(db, row[0])
    return {"expected_cash": row[5] + by_method["cash"]["total"], "by_method": by_method}


def _takings(db: pw.Database, register_id: int) -> dict[str, dict[str, int]]:
    """Per payment method: the sales of this register session, their total less the
    refunds made at it, those refunds' amount and their number."""
    takings = {method: {"count": 0, "total": 0, "refunded": 0, "refunds": 0} for method in METHODS}
    for method, count, total in sql.rows(
        db,
        "SELECT p.method, COUNT(*), SUM(o.total) FROM orders o JOIN payments p "
        f"ON p.order_id = o.id WHERE o.register_id = ? AND o.status IN {SOLD} GROUP BY p.method",
        (register_id,),
    ):
        takings[method].update(count=count, total=int(total))  # PostgreSQL sums as numeric
    for method, refunds, refunded in sql.rows(
        db,
        "SELECT method, COUNT(*), SUM(amount) FROM refunds WHERE register_id = ? GROUP BY method",
        (register_id,),
    ):
        takings[method]["total"] -= int(refunded)
        takings[method].update(refunded=int(refunded), refunds=refunds)
    return takings


def _register_map(row: tuple[Any, ...]) -> Register:
    register_id, station, clerk_id, status, opened_at, opening_cash = row
    return {
        "id": register_id,
        "station": station,
        "clerk_id": clerk_id,
        "status": status,
        "opened_at": wire.utc(opened_at),
        "opening_cash": opening_cash,
    }
