"""The till's durable queue of sales rung up offline (PROTOCOL.md 12.7, `clerk.sale`
with `offline_at`), and what the till needs to keep selling without its server.

One SQLite file in the data dir (`offline.db`) holds:

- the queued sales, each with the idempotency key, the receipt number and the moment it
  was rung up, given here, in one transaction committed with `synchronous=FULL` before
  the receipt is shown: a killed app or a machine losing power loses no sale;
- the receipt counter per prefix, advanced in that same transaction, so a number is never
  given twice, not even after a crash;
- what was last known of the products sold at this till (price, stock) and of the shop
  and the clerk's till, so a till started while the server is away can still sell.

Sending is `send_queued`: oldest first, each with its own key, so a sale whose answer was
lost in a disconnect is sent again under the same key and counted once by the server. A
sale the server answered is marked sent in the same file, in the same way.

No terminal here: the point of sale (`widgets/pos.py`) and the app drive it.
"""

from __future__ import annotations

import json
import re
import socket
import sqlite3
from collections.abc import Awaitable, Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from client_tui.ticket import new_key
from protocol.client import ConnectionLost
from protocol.errors import BadRequest, Conflict, NotFound, WarungError

QUEUE_FILE = "offline.db"
DEFAULT_PREFIX = "TILL"
RECEIPT_DIGITS = 6  # K1-000042; the counter may grow to 12 digits (PROTOCOL.md)
MAX_COUNTER = 10**12 - 1
_PREFIX = re.compile(r"[A-Z0-9]{1,16}")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS counters (prefix TEXT PRIMARY KEY, last INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS sales (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    owner TEXT NOT NULL,
    idempotency_key TEXT NOT NULL UNIQUE,
    receipt TEXT NOT NULL UNIQUE,
    offline_at TEXT NOT NULL,
    lines TEXT NOT NULL,
    payment TEXT NOT NULL,
    total INTEGER NOT NULL,
    state TEXT NOT NULL DEFAULT 'queued',
    order_id INTEGER,
    problem TEXT
);
CREATE TABLE IF NOT EXISTS products (
    owner TEXT NOT NULL,
    id INTEGER NOT NULL,
    sku TEXT NOT NULL,
    name TEXT NOT NULL,
    price INTEGER NOT NULL,
    stock INTEGER NOT NULL,
    PRIMARY KEY (owner, id)
);
CREATE TABLE IF NOT EXISTS profiles (owner TEXT PRIMARY KEY, data TEXT NOT NULL);
"""


class SaleState(StrEnum):
    QUEUED = "queued"  # rung up, not yet answered by the server
    SENT = "sent"  # the server recorded it (`order_id`)
    REFUSED = "refused"  # the server refused it for good (`problem` says why)
    DISMISSED = "dismissed"  # a refused sale a person took over (the cash is reconciled by hand)


class PrefixError(ValueError):
    """A receipt prefix that PROTOCOL.md does not allow."""


def check_prefix(prefix: str) -> str:
    """`prefix` if it is 1 to 16 capital letters or digits; PrefixError says what is wrong."""
    if not _PREFIX.fullmatch(prefix):
        raise PrefixError(
            f"A receipt prefix is 1 to 16 capital letters or digits (K1, TOKO2), not {prefix!r}."
        )
    return prefix


def default_prefix(hostname: str | None = None) -> str:
    """The station's host name in capitals without other characters (`kasir-1` → KASIR1),
    at most 16; TILL when nothing is left. Two tills of a shop need two prefixes."""
    name = socket.gethostname() if hostname is None else hostname
    cleaned = re.sub(r"[^A-Z0-9]", "", name.split(".")[0].upper())[:16]
    return cleaned or DEFAULT_PREFIX


def owner_of(user: str, address: str) -> str:
    """Whose queue: a clerk's sales go to the server they were rung up for, under that
    clerk's account (idempotency keys belong to the clerk)."""
    return f"{user}@{address}"


@dataclass(frozen=True)
class QueuedSale:
    seq: int
    idempotency_key: str
    receipt: str
    offline_at: datetime
    lines: list[dict[str, int]]
    payment: dict[str, Any]
    total: int
    state: SaleState = SaleState.QUEUED
    order_id: int | None = None
    problem: str | None = None

    def arguments(self) -> dict[str, Any]:
        """`clerk.sale`'s arguments, the same at every send (the server's fingerprint)."""
        return {
            "lines": self.lines,
            "payment": self.payment,
            "offline_at": self.offline_at,
            "receipt": self.receipt,
        }

    def order(self, names: dict[int, str]) -> dict[str, Any]:
        """What the till shows on the receipt before the server has it (PROTOCOL.md 11.5's
        fields that the till knows); `names`: the products' names by id."""
        tendered = self.payment.get("tendered", self.total)
        return {
            "id": None,
            "receipt": self.receipt,
            "offline_at": self.offline_at,
            "created_at": self.offline_at,
            "total": self.total,
            "lines": [
                {
                    **line,
                    "name": names.get(line["product_id"], f"product {line['product_id']}"),
                    "line_total": line["unit_price"] * line["qty"],
                }
                for line in self.lines
            ],
            "payment": {"method": "cash"},
            "change_due": tendered - self.total,
            "status": "queued",
        }


class OfflineQueue:
    """The durable queue in `path`; `prefix` numbers the receipts given here."""

    def __init__(self, path: Path, prefix: str = DEFAULT_PREFIX) -> None:
        self.path = path
        self.prefix = check_prefix(prefix)
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # a commit is on the disk when it returns
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # -- ringing up

    def ring_up(
        self,
        owner: str,
        lines: list[dict[str, int]],
        tendered: int | None = None,
        at: datetime | None = None,
    ) -> QueuedSale:
        """Queue a cash sale of `lines` (`product_id`, `qty`, `unit_price`: the price the
        till charged) and give it its key and receipt number. When this returns, the sale
        is on the disk: only then may the receipt be shown."""
        if not lines:
            raise ValueError("a sale has at least one line")
        total = sum(line["unit_price"] * line["qty"] for line in lines)
        if tendered is not None and tendered < total:
            raise ValueError("the cash handed over is less than the total")
        payment: dict[str, Any] = {"method": "cash"}
        if tendered is not None:
            payment["tendered"] = tendered
        when = (at or datetime.now(UTC)).astimezone(UTC)
        key = new_key()
        with self._transaction() as db:
            receipt = self._next_receipt(db)
            cursor = db.execute(
                "INSERT INTO sales (owner, idempotency_key, receipt, offline_at, lines, "
                "payment, total) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    owner,
                    key,
                    receipt,
                    when.isoformat(),
                    json.dumps(lines),
                    json.dumps(payment),
                    total,
                ),
            )
            self._lower_stock(db, owner, lines)
        assert cursor.lastrowid is not None
        return QueuedSale(cursor.lastrowid, key, receipt, when, lines, payment, total)

    @staticmethod
    def _lower_stock(db: sqlite3.Connection, owner: str, lines: list[dict[str, int]]) -> None:
        """The last known stock less what this sale took, never below 0: two sales of the
        last unit offline show it sold out (still as last known)."""
        db.executemany(
            "UPDATE products SET stock = max(stock - ?, 0) WHERE owner = ? AND id = ?",
            [(line["qty"], owner, line["product_id"]) for line in lines],
        )

    def _next_receipt(self, db: sqlite3.Connection) -> str:
        row = db.execute("SELECT last FROM counters WHERE prefix = ?", (self.prefix,)).fetchone()
        number = (row["last"] if row else 0) + 1
        if number > MAX_COUNTER:
            raise OverflowError(f"the receipt counter of {self.prefix} is used up")
        db.execute(
            "INSERT INTO counters (prefix, last) VALUES (?, ?) "
            "ON CONFLICT (prefix) DO UPDATE SET last = excluded.last",
            (self.prefix, number),
        )
        return f"{self.prefix}-{number:0{RECEIPT_DIGITS}d}"

    # -- what waits, what went

    def queued(self, owner: str) -> list[QueuedSale]:
        """`owner`'s sales not yet answered, oldest first."""
        return self._sales("owner = ? AND state = 'queued'", (owner,))

    def count_queued(self, owner: str) -> int:
        row = self._db.execute(
            "SELECT count(*) FROM sales WHERE owner = ? AND state = 'queued'", (owner,)
        ).fetchone()
        return int(row[0])

    def refused(self, owner: str) -> list[QueuedSale]:
        """`owner`'s sales the server refused for good and no one has dismissed yet."""
        return self._sales("owner = ? AND state = 'refused'", (owner,))

    def count_refused(self, owner: str) -> int:
        row = self._db.execute(
            "SELECT count(*) FROM sales WHERE owner = ? AND state = 'refused'", (owner,)
        ).fetchone()
        return int(row[0])

    def dismiss_refused(self, owner: str, key: str) -> bool:
        """A person took over the refused sale `key`: it leaves the till's list but stays in
        the file (with its reason) for the records. False if it was not refused."""
        with self._transaction() as db:
            cursor = db.execute(
                "UPDATE sales SET state = 'dismissed' "
                "WHERE owner = ? AND idempotency_key = ? AND state = 'refused'",
                (owner, key),
            )
        return cursor.rowcount == 1

    def product_names(self, owner: str) -> dict[int, str]:
        """The names of the products last seen at this till, by id."""
        rows = self._db.execute("SELECT id, name FROM products WHERE owner = ?", (owner,))
        return {r["id"]: r["name"] for r in rows}

    def sale(self, key: str) -> QueuedSale | None:
        found = self._sales("idempotency_key = ?", (key,))
        return found[0] if found else None

    def _sales(self, where: str, args: tuple[Any, ...]) -> list[QueuedSale]:
        rows = self._db.execute(f"SELECT * FROM sales WHERE {where} ORDER BY seq", args)
        return [_sale(row) for row in rows]

    def mark_sent(self, key: str, order_id: int) -> None:
        """The server recorded the sale as `order_id`: it is never sent again."""
        with self._transaction() as db:
            db.execute(
                "UPDATE sales SET state = 'sent', order_id = ?, problem = NULL "
                "WHERE idempotency_key = ?",
                (order_id, key),
            )

    def mark_refused(self, key: str, problem: str) -> None:
        """The server refused the sale for good: kept, with why, for a person to settle."""
        with self._transaction() as db:
            db.execute(
                "UPDATE sales SET state = 'refused', problem = ? WHERE idempotency_key = ?",
                (problem, key),
            )

    # -- the last known products, shop and till

    def remember_products(self, owner: str, products: Iterable[dict[str, Any]]) -> None:
        """Keep the price and stock last seen of each product (the till sells at these)."""
        rows = [
            (owner, p["id"], p["sku"], p["name"], p["price"], p.get("stock", 0)) for p in products
        ]
        if rows:
            with self._transaction() as db:
                db.executemany(
                    "INSERT OR REPLACE INTO products (owner, id, sku, name, price, stock) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    rows,
                )

    def remember_stock(self, owner: str, levels: dict[int, int]) -> None:
        with self._transaction() as db:
            db.executemany(
                "UPDATE products SET stock = ? WHERE owner = ? AND id = ?",
                [(stock, owner, pid) for pid, stock in levels.items()],
            )

    def known_products(self, owner: str, text: str) -> list[dict[str, Any]]:
        """Products last seen whose SKU is `text`, else whose name contains it (any case)."""
        by_sku = self._products("owner = ? AND sku = ?", (owner, text))
        if by_sku:
            return by_sku
        return self._products("owner = ? AND instr(lower(name), lower(?)) > 0", (owner, text))

    def _products(self, where: str, args: tuple[Any, ...]) -> list[dict[str, Any]]:
        rows = self._db.execute(f"SELECT * FROM products WHERE {where} ORDER BY name, id", args)
        return [
            {
                "id": r["id"],
                "sku": r["sku"],
                "name": r["name"],
                "price": r["price"],
                "stock": r["stock"],
                "last_known": True,
            }
            for r in rows
        ]

    def remember_profile(self, owner: str, profile: dict[str, Any]) -> None:
        """What a till started offline needs: the shop's name and currency, the clerk,
        the open till."""
        with self._transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO profiles (owner, data) VALUES (?, ?)",
                (owner, json.dumps(profile)),
            )

    def profile(self, owner: str) -> dict[str, Any] | None:
        row = self._db.execute("SELECT data FROM profiles WHERE owner = ?", (owner,)).fetchone()
        return json.loads(row["data"]) if row else None


def _sale(row: sqlite3.Row) -> QueuedSale:
    return QueuedSale(
        seq=row["seq"],
        idempotency_key=row["idempotency_key"],
        receipt=row["receipt"],
        offline_at=datetime.fromisoformat(row["offline_at"]),
        lines=json.loads(row["lines"]),
        payment=json.loads(row["payment"]),
        total=row["total"],
        state=SaleState(row["state"]),
        order_id=row["order_id"],
        problem=row["problem"],
    )


@dataclass(frozen=True)
class Sent:
    """What one `send_queued` did: sales recorded, refused, and whether some still wait."""

    recorded: list[tuple[QueuedSale, dict[str, Any]]]
    refused: list[QueuedSale]
    stopped: BaseException | None  # why sending stopped early (the link, a busy server)


Send = Callable[[QueuedSale], Awaitable[dict[str, Any]]]


async def send_queued(queue: OfflineQueue, owner: str, send: Send) -> Sent:
    """Send `owner`'s queued sales, oldest first, each marked sent once answered.

    A failure that leaves the sale's fate unknown (the link, `unavailable`, a repeat still
    running elsewhere, a session that ended) stops here: the next call sends that sale
    again with its key, and the server counts it once. A definite refusal (a bad argument,
    a receipt taken, a product unknown) marks that sale refused, with the reason, and goes
    on to the next.
    """
    recorded: list[tuple[QueuedSale, dict[str, Any]]] = []
    refused: list[QueuedSale] = []
    for sale in queue.queued(owner):
        try:
            order = await send(sale)
        except WarungError as error:
            if not _definite(error):
                return Sent(recorded, refused, error)
            queue.mark_refused(sale.idempotency_key, f"{error.code}: {error.message}")
            refused.append(replace(sale, state=SaleState.REFUSED, problem=error.message))
            continue
        except (ConnectionLost, TimeoutError, OSError) as error:
            return Sent(recorded, refused, error)
        queue.mark_sent(sale.idempotency_key, int(order["id"]))
        recorded.append((sale, order))
    return Sent(recorded, refused, None)


def _definite(error: WarungError) -> bool:
    """A refusal that sending again would only repeat; anything else (signed out, busy,
    rate limited, a repeat still running elsewhere) is tried again later."""
    if isinstance(error, Conflict):
        return error.details.get("reason") != "in_progress"
    return isinstance(error, BadRequest | NotFound)
