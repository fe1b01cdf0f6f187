"""The composition root: `Server` builds the executor, the hub, the services, the dispatcher
and the factory of one running server, starts them and drains them (`server.service` runs it)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import peewee as pw
from twisted.internet.defer import Deferred
from twisted.internet.task import LoopingCall
from twisted.logger import Logger

from protocol.ops import EventName
from server.audit_feed import AuditFeed
from server.cursors import Cursors
from server.database import checkpoint_wal, cursor_key, read_shop
from server.dbexec import DatabaseExecutor
from server.dispatch import Dispatcher
from server.events import EventHub, next_turn
from server.factory import WarungFactory
from server.handlers import handlers
from server.hashing import HashingPool
from server.health import Readiness
from server.import_watch import ImportWatch
from server.limits import Limits
from server.metrics import Metrics
from server.payments import FakeProvider
from server.periodic import logged
from server.pg_events import PgEventListener
from server.security_log import SecurityLog
from server.services.account_sessions import SessionLifetimes, prune_sessions
from server.services.admin_products import AdminProductService
from server.services.audit_list import AuditListService
from server.services.auth import AuthService
from server.services.cart import CartService
from server.services.catalog import CatalogService
from server.services.checkout import PENDING_LEASE_S
from server.services.inventory import InventoryService
from server.services.order_feed import OrderFeed
from server.services.orders import OrderService
from server.services.people import PeopleService
from server.services.product_cache import ProductCache
from server.services.refund import RefundService
from server.services.register import RegisterService
from server.services.sale import SaleService
from server.services.sales_report import SalesReportService
from server.services.session import SessionService
from server.services.session_check import SessionCheck
from server.services.shortfalls import ShortfallService
from server.services.staff_feed import StaffFeedService
from server.services.stock_feed import StockFeedService
from server.session_registry import SessionRegistry

log = Logger()
CHECKPOINT_EVERY_S = 1.0
SWEEP_EVERY_S = 60.0
PRUNE_EVERY_S = 3600.0
KEEP_ENDED_SESSIONS_S = 30 * 86_400  # an ended session's row (where, which client) for a look back
DRAIN_S = 10.0
CLOSE_S = 2.0


class Server:
    """Everything one running server holds, wired together."""

    def __init__(
        self, db: pw.Database, url: str, reactor: Any, limits: Limits, payment_delay_s: float
    ) -> None:
        self.reactor = reactor
        shop = read_shop(db)
        currency = shop["currency"]
        self.dbx = DatabaseExecutor(db, reactor, url)
        self.hub = EventHub(next_turn(reactor))
        self.metrics = Metrics()
        cache = None if self.dbx.postgres else ProductCache()
        if cache is not None:
            self.hub.listeners.append(cache.apply)
        self.import_watch = (
            None if cache is None else ImportWatch(self.dbx, self.hub, cache, reactor)
        )
        cursors = Cursors(cursor_key(db))
        self.catalog = CatalogService(self.dbx, cursors, cache)
        provider = FakeProvider(reactor, payment_delay_s)
        declines = limits.declines_per_account_per_hour
        self.orders = OrderService(
            self.dbx, self.hub, provider, currency, reactor, cursors, declines
        )
        stock_feed = StockFeedService(self.dbx, self.hub, limits.max_subscriptions)
        sessions = SessionRegistry()
        self.security = SecurityLog(reactor)
        self.audit_feed = AuditFeed(self.dbx, reactor)
        self.security.listeners.append(self.audit_feed)
        self.hashing = HashingPool(reactor, limits.hashing_threads, limits.hashing_queue)
        auth = AuthService(
            self.dbx,
            reactor,
            sessions,
            limits,
            self.hashing,
            security=self.security,
            lifetimes=SessionLifetimes.of(limits),
        )
        check = SessionCheck(self.dbx, reactor, sessions, self.security)
        self.session_check_s = limits.session_check_s
        self._session_checks = LoopingCall(
            logged(lambda: Deferred.fromCoroutine(check.run()), "session check")
        )
        session = SessionService(limits, shop)
        dispatcher = Dispatcher(
            handlers(
                session,
                auth,
                self.catalog,
                CartService(self.dbx, currency),
                self.orders,
                stock_feed,
                StaffFeedService(self.dbx, self.hub, reactor, cursors),
                InventoryService(self.dbx, self.hub),
                RefundService(self.dbx, self.hub, provider, reactor),
                ShortfallService(self.dbx, self.hub),
                RegisterService(self.dbx),
                SaleService(self.dbx, self.hub, self.orders.checkouts, currency),
                AdminProductService(self.dbx, self.hub, currency, cache),
                SalesReportService(self.dbx, currency),
                AuditListService(self.dbx, cursors),
                PeopleService(self.dbx, self.hashing, sessions, cursors),
            ),
            security=self.security,
        )
        session.offer(dispatcher.handlers)
        self.factory = WarungFactory(
            dispatcher,
            self.hub,
            limits,
            reactor,
            self.metrics,
            sessions=sessions,
            security=self.security,
        )
        self.readiness = Readiness(self.factory, self.dbx, reactor)
        self.metrics.watch(self.factory, self.dbx, self.hub, self.readiness)
        self.ports: list[Any] = []
        self._checkpoints = LoopingCall(logged(self._checkpoint, "WAL checkpoint"))
        self._sweeps = LoopingCall(logged(self.orders.settle_pending, "pending-order sweep"))
        self._prunes = LoopingCall(logged(self._prune, "pruning ended sessions"))
        self.listener = None
        if isinstance(db, pw.PostgresqlDatabase):
            orders_elsewhere = OrderFeed(self.dbx, self.hub)
            self.listener = PgEventListener(
                db,
                reactor,
                self.hub,
                stock_feed.watched_stock,
                orders_elsewhere.changed,
                sessions.sign_out_user,
            )

    async def start(self) -> None:
        """Start the database threads and writer, hear other servers, settle what a crash
        left."""
        await self.dbx.start()
        self.hashing.start()
        if self.listener is not None:
            await self.listener.start()
        else:
            self._checkpoints.clock = self.reactor
            self._checkpoints.start(CHECKPOINT_EVERY_S, now=False)
        if self.import_watch is not None:
            await self.import_watch.start()  # before the cache loads: no import is missed
        await self.catalog.load_cache()
        # Alone on SQLite, every order pending from before now is an orphan of the last run;
        # on PostgreSQL another server may be charging one, so only those past the lease are
        # settled. In the background: the server listens meanwhile, and a checkout asking
        # about one of them is answered `conflict` `in_progress` until it is settled.
        older_than_s = 0.0 if self.listener is None else PENDING_LEASE_S
        _settled(self.orders.settle_pending(older_than_s), "left by the last run")
        self.dbx.on_writer_restart(
            lambda died_at: _settled(
                self.orders.checkouts.settle_after_writer_crash(died_at), "after a writer crash"
            )
        )
        self._sweeps.clock = self.reactor
        self._sweeps.start(SWEEP_EVERY_S, now=False)
        self._session_checks.clock = self.reactor
        self._session_checks.start(self.session_check_s, now=False)
        self._prunes.clock = self.reactor
        self._prunes.start(PRUNE_EVERY_S, now=False)
        self.readiness.refresh()  # `warung_ready` is right from the first scrape

    def _checkpoint(self) -> Deferred[None]:
        return self.dbx.read(checkpoint_wal)

    def _prune(self) -> Deferred[int]:
        before = self.reactor.seconds() - KEEP_ENDED_SESSIONS_S
        return self.dbx.write(prune_sessions, before)

    async def shutdown(self) -> None:
        """Drain: take no new connection or request, tell every client to go elsewhere, let
        the requests in flight (a checkout waiting on its payment) finish, close, stop."""
        for port in self.ports:
            await port.stopListening()
        self.factory.draining = True
        for conn in list(self.factory.connections):
            conn.send_event(
                EventName.SERVER_SHUTDOWN, {"reason": "draining", "reconnect_after_ms": 1000}
            )
        await self._until(
            lambda: not self.orders.busy and not any(c.in_flight for c in self.factory.connections),
            DRAIN_S,
        )
        for conn in list(self.factory.connections):
            conn.close()
        await self._until(lambda: not self.factory.connections, CLOSE_S)
        self.security.flush()
        self.factory.access.flush()
        try:
            await self.audit_feed.drain()
            for loop in (self._checkpoints, self._sweeps, self._session_checks, self._prunes):
                if loop.running:
                    loop.stop()
            if self.listener is not None:
                self.listener.stop()
            if self.import_watch is not None:
                self.import_watch.stop()
        finally:
            self.hashing.stop()
            await self.dbx.stop()
        log.info(
            "{writes} writes in {batches} group commits, writer busy {busy:.1f} s",
            writes=self.dbx.writes,
            batches=self.dbx.batches,
            busy=self.dbx.busy_s,
        )

    def _until(self, done: Callable[[], bool], limit_s: float) -> Deferred[None]:
        """Fires when `done()` holds, or after `limit_s` seconds."""
        finished: Deferred[None] = Deferred()
        deadline = self.reactor.seconds() + limit_s

        def check() -> None:
            if done() or self.reactor.seconds() >= deadline:
                finished.callback(None)
            else:
                self.reactor.callLater(0.05, check)

        check()
        return finished


def _settled(settling: Deferred[int], when: str) -> None:
    """Log what a settling of pending orders running in the background did."""

    def report(settled: int) -> None:
        if settled:
            log.info("settled {n} pending orders {when}", n=settled, when=when)

    settling.addCallback(report).addErrback(
        lambda failure: log.failure("settling pending orders {when} failed", failure, when=when)
    )
