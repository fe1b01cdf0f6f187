"""Changes committed by any server on one PostgreSQL, delivered to this server's hub.

Every stock change and order change is announced inside its own transaction with
`pg_notify` (PostgreSQL delivers a notification only after its transaction commits, and
never one from a rolled-back transaction or savepoint). Each server LISTENs on a
connection of its own. Payloads are small (ids, stock and version), far below the 8000-byte limit.

NOTIFY replays nothing: when the listening connection is lost, the server reconnects with
backoff and then re-reads the current stock of every product its clients watch, pushing
whatever moved meanwhile (the hub drops values it has already sent).
"""

from __future__ import annotations

import secrets
import select
import threading
from collections.abc import Callable
from typing import Any

import peewee as pw
import psycopg2
from twisted.internet.defer import Deferred
from twisted.logger import Logger

from db.change_notice import STOCK_CHANNEL, notify_stock
from server import sql
from server.events import EventHub, StockChange

ORDER_CHANNEL = "warung_order"
SIGN_OUT_CHANNEL = "warung_sign_out"
INSTANCE = secrets.token_hex(4)  # this process, so it can skip its own order announcements
RETRY_MIN_S, RETRY_MAX_S = 0.2, 10.0
POLL_S = 0.5

log = Logger()


def announce_stock(db: pw.Database, change: StockChange) -> None:
    """Inside the writing transaction: tell every server of a stock change (PostgreSQL only).

    Channels are per schema (`warung_stock_<schema>`): NOTIFY reaches a whole database, and
    two shops in two schemas of one database must not hear each other.
    """
    notify_stock(db, *change)


def announce_order(db: pw.Database, order_id: int) -> None:
    """Inside the writing transaction: tell every server an online order changed, and its
    status now (PostgreSQL only). The payload is `origin:order_id:customer_id:status`."""
    if isinstance(db, pw.PostgresqlDatabase):
        sql.later(
            db,
            f"SELECT pg_notify('{ORDER_CHANNEL}_' || current_schema(), "
            "? || ':' || id || ':' || customer_id || ':' || status) "
            "FROM orders WHERE id = ? AND customer_id IS NOT NULL",
            (INSTANCE, order_id),
        )


def announce_sign_out(db: pw.Database, user_id: int, reason: str) -> None:
    """Inside the writing transaction: tell every server to sign out the user's connections
    now, saying `reason` (PostgreSQL only; the payload is `user_id:reason`)."""
    if isinstance(db, pw.PostgresqlDatabase):
        sql.later(
            db,
            f"SELECT pg_notify('{SIGN_OUT_CHANNEL}_' || current_schema(), ?)",
            (f"{user_id}:{reason}",),
        )


class PgEventListener:
    """LISTENs for every server's committed changes and feeds them to the hub.

    The listening connection lives on a thread of its own that waits in `select`, so the
    reactor never blocks on it and a connection the database drops is simply reopened.
    """

    def __init__(
        self,
        db: pw.PostgresqlDatabase,
        reactor: Any,
        hub: EventHub,
        resync: Callable[[], Deferred[list[StockChange]]],
        order_changed: Callable[[int, int, str], None],
        signed_out: Callable[[int, str], None] | None = None,
    ) -> None:
        self.db = db
        self.reactor = reactor
        self.hub = hub
        self.resync = resync
        self.order_changed = order_changed
        self.signed_out = signed_out
        self.connects = 0
        self.channels: dict[str, str] = {}
        self._stop = threading.Event()
        self._ready: Deferred[None] = Deferred()
        self._thread = threading.Thread(target=self._run, name="warung-listen", daemon=True)

    def start(self) -> Deferred[None]:
        """Fires once the first LISTEN is in place."""
        self._thread.start()
        return self._ready

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2 * POLL_S)

    # -- on the listening thread

    def _run(self) -> None:
        retry = RETRY_MIN_S
        while not self._stop.is_set():
            try:
                conn = self._open()
            except psycopg2.Error as exc:
                log.warn("cannot listen yet: {error}", error=" ".join(str(exc).split()))
                self._stop.wait(retry)
                retry = min(RETRY_MAX_S, retry * 2)
                continue
            retry = RETRY_MIN_S
            self.reactor.callFromThread(self._connected)
            try:
                self._listen(conn)
            except psycopg2.Error as exc:
                log.warn("lost the listening connection: {error}", error=" ".join(str(exc).split()))
            finally:
                conn.close()

    def _open(self) -> Any:
        conn = psycopg2.connect(
            dbname=self.db.database,
            application_name="warung-listen",
            keepalives=1,
            keepalives_idle=10,
            keepalives_interval=5,
            keepalives_count=3,
            **self.db.connect_params,
        )
        conn.autocommit = True
        with conn.cursor() as cursor:
            cursor.execute("SELECT current_schema()")
            (schema,) = cursor.fetchone()
            self.channels = {
                f"{STOCK_CHANNEL}_{schema}": STOCK_CHANNEL,
                f"{ORDER_CHANNEL}_{schema}": ORDER_CHANNEL,
                f"{SIGN_OUT_CHANNEL}_{schema}": SIGN_OUT_CHANNEL,
            }
            for channel in self.channels:
                cursor.execute(f"LISTEN {_quoted(channel)}")
        return conn

    def _listen(self, conn: Any) -> None:
        while not self._stop.is_set():
            if not select.select([conn], [], [], POLL_S)[0]:
                continue
            conn.poll()
            if conn.closed:
                raise psycopg2.OperationalError("the database closed the connection")
            notes, conn.notifies = conn.notifies, []
            mine = [
                (self.channels[n.channel], n.payload) for n in notes if n.channel in self.channels
            ]
            if mine:
                self.reactor.callFromThread(self._deliver, mine)

    # -- on the reactor

    def _connected(self) -> None:
        """LISTEN is in place (again): go on from there, logging a failure to catch up."""
        Deferred.fromCoroutine(self._listening()).addErrback(
            lambda failure: log.failure(
                "cannot catch up on the stock changes missed while not listening",
                failure,
            )
        )

    async def _listening(self) -> None:
        self.connects += 1
        log.info("listening for changes from other servers")
        if self.connects == 1:
            self._ready.callback(None)
            return
        changes = await self.resync()  # NOTIFY replays nothing: read what moved meanwhile
        self.hub.publish_stock(changes)

    def _deliver(self, notes: list[tuple[str, str]]) -> None:
        stock = [_stock(payload) for channel, payload in notes if channel == STOCK_CHANNEL]
        if stock:
            self.hub.publish_stock(stock)
        for channel, payload in notes:
            if channel == ORDER_CHANNEL:
                origin, order_id, customer_id, status = payload.split(":")
                if origin != INSTANCE:
                    self.order_changed(int(order_id), int(customer_id), status)
            elif channel == SIGN_OUT_CHANNEL and self.signed_out is not None:
                user_id, reason = payload.split(":")
                self.signed_out(int(user_id), reason)


def _quoted(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _stock(payload: str) -> StockChange:
    product_id, stock, version = (int(part) for part in payload.split(":"))
    return StockChange(product_id, stock, version)
