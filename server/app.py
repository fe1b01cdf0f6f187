"""`warung-server serve`: open the database, build the services, listen, run until stopped."""

from __future__ import annotations

import secrets
import sys
from argparse import Namespace
from collections.abc import Callable
from typing import Any

import peewee as pw
from twisted.internet import reactor as default_reactor
from twisted.internet import ssl
from twisted.internet.defer import Deferred, inlineCallbacks
from twisted.internet.task import LoopingCall
from twisted.logger import Logger, globalLogBeginner, textFileLogObserver

from db.accounts import create_user
from db.connect import connect
from db.demo import load_demo
from db.migrations import migrate
from db.models import Product, Setting, User
from db.url import resolve
from protocol.ops import EventName
from protocol.rules import DEMO_ACCOUNT_LINE, ROLES
from server import sql
from server.dbexec import DatabaseExecutor
from server.dispatch import Dispatcher
from server.events import EventHub, StockChange
from server.factory import WarungFactory
from server.handlers import handlers
from server.limits import Limits, with_overrides
from server.metrics import Metrics
from server.payments import FakeProvider
from server.pg_events import PgEventListener
from server.services.auth import AuthService
from server.services.cart import CartService
from server.services.catalog import CatalogService
from server.services.orders import PENDING_LEASE_S, OrderService, read_order
from server.services.product_cache import ProductCache
from server.services.session import SessionService
from server.services.stock_feed import StockFeedService

log = Logger()
DEMO_ACCOUNTS = ROLES
CHECKPOINT_EVERY_S = 1.0
SWEEP_EVERY_S = 60.0
DRAIN_S = 10.0
CLOSE_S = 2.0


def prepare_database(url: str | None, demo: bool) -> pw.Database:
    """Open, migrate and (with `demo`) fill the database. Runs before the reactor starts."""
    db = connect(url, pragmas={"wal_autocheckpoint": 0})
    migrate(db)
    if demo and not Product.select().exists():
        shop = load_demo(db)
        print(f"loaded the demo shop: {shop.products} products", file=sys.stderr)
    if demo and not User.select().exists():
        for role in DEMO_ACCOUNTS:
            password = secrets.token_urlsafe(9)
            create_user(role, password, role)
            print(DEMO_ACCOUNT_LINE.format(role=role, password=password), flush=True)
    db.close()
    return db


def shop_info(db: pw.Database) -> dict[str, Any]:
    settings = {s.key: s.value for s in Setting.select()}
    db.close()
    return {
        "name": settings.get("shop_name", "warung"),
        "currency": settings.get("currency", "IDR"),
        "currency_exponent": int(settings.get("currency_exponent", "2")),
    }


class Server:
    """Everything one running server holds, wired together."""

    def __init__(
        self, db: pw.Database, url: str, reactor: Any, limits: Limits, payment_delay_s: float
    ):
        self.reactor = reactor
        self.shop = shop_info(db)
        self.dbx = DatabaseExecutor(db, reactor, url)
        self.hub = EventHub()
        self.provider = FakeProvider(reactor, payment_delay_s)
        self.metrics = Metrics()
        self.factory = WarungFactory(Dispatcher({}), self.hub, limits, reactor, self.metrics)
        self.metrics.watch(self.factory, self.dbx, self.hub)
        currency = self.shop["currency"]
        self.orders = OrderService(self.dbx, self.hub, self.provider, currency, reactor)
        self.ports: list[Any] = []
        cache = None if self.dbx.postgres else ProductCache()
        if cache is not None:
            self.hub.listeners.append(cache.apply)
        self.catalog = CatalogService(self.dbx, cache)
        self.factory.dispatcher = Dispatcher(
            handlers(
                SessionService(limits, self.shop),
                AuthService(self.dbx, self.factory),
                self.catalog,
                CartService(self.dbx, currency),
                self.orders,
                StockFeedService(self.dbx, self.hub, limits.max_subscriptions),
            )
        )
        self._checkpoints = LoopingCall(_logged(self._checkpoint, "WAL checkpoint"))
        self._sweeps = LoopingCall(_logged(self.orders.settle_pending, "pending-order sweep"))
        self.listener = (
            PgEventListener(db, reactor, self.hub, self._current_stock, self._order_changed)
            if self.dbx.postgres
            else None
        )

    def _current_stock(self) -> Any:
        """Stock of every product a client here watches, read now (after a deaf spell)."""
        watched = None if self.hub.everything else sorted(self.hub.by_product)

        def read(db: pw.Database) -> list[StockChange]:
            if watched == []:
                return []
            where = "" if watched is None else f"WHERE id IN ({', '.join('?' * len(watched))})"
            found = sql.rows(db, f"SELECT id, stock, version FROM products {where}", watched or ())
            return [StockChange(*row) for row in found]

        return self.dbx.read(read)

    def _order_changed(self, order_id: int, customer_id: int) -> None:
        """Another server changed an order: push it to its owner's connections here."""
        if customer_id in self.hub.users:
            d = self.dbx.read(lambda db: read_order(db, order_id))
            d.addCallback(self.hub.publish_order).addErrback(
                lambda failure: log.failure("cannot push order {id}", failure, id=order_id)
            )

    @inlineCallbacks
    def start(self):
        """Start the database threads and writer, hear other servers, settle what a crash
        left."""
        yield self.dbx.start()
        if self.listener is not None:
            yield self.listener.start()
        else:
            self._checkpoints.clock = self.reactor
            self._checkpoints.start(CHECKPOINT_EVERY_S, now=False)
        yield self.catalog.load_cache()
        # Alone on SQLite, every pending order is an orphan of the last run; on PostgreSQL
        # another server may be charging one, so only those past the lease are settled.
        settled = yield self.orders.settle_pending(
            None if self.listener is None else PENDING_LEASE_S
        )
        if settled:
            log.info("settled {n} orders left pending by a stopped checkout", n=settled)
        self._sweeps.clock = self.reactor
        self._sweeps.start(SWEEP_EVERY_S, now=False)

    def _checkpoint(self) -> Any:
        """Move the WAL into the database off the commit path (autocheckpoint is off)."""
        return self.dbx.read(lambda db: db.execute_sql("PRAGMA wal_checkpoint(PASSIVE)"))

    @inlineCallbacks
    def shutdown(self):
        """Drain: take no new connection or request, tell every client to go elsewhere, let
        the requests in flight (a checkout waiting on its payment) finish, close, stop."""
        for port in self.ports:
            yield port.stopListening()
        self.factory.draining = True
        for conn in list(self.factory.connections):
            conn.send_event(
                EventName.SERVER_SHUTDOWN, {"reason": "draining", "reconnect_after_ms": 1000}
            )
        yield self._until(
            lambda: not self.orders.busy and not any(c.in_flight for c in self.factory.connections),
            DRAIN_S,
        )
        for conn in list(self.factory.connections):
            conn.close()
        yield self._until(lambda: not self.factory.connections, CLOSE_S)
        try:
            for loop in (self._checkpoints, self._sweeps):
                if loop.running:
                    loop.stop()
            if self.listener is not None:
                self.listener.stop()
        finally:
            yield self.dbx.stop()
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


def _logged(task: Callable[[], Deferred[Any]], what: str) -> Callable[[], Deferred[Any]]:
    """`task` for a LoopingCall, which would stop for good at its first failure."""

    def run() -> Deferred[Any]:
        return task().addErrback(lambda failure: log.failure("{what} failed", failure, what=what))

    return run


def serve(args: Namespace, reactor: Any = default_reactor) -> int:
    try:
        limits = with_overrides(Limits(), args.limit)
    except ValueError as exc:
        print(f"warung-server: {exc}", file=sys.stderr)
        return 2
    globalLogBeginner.beginLoggingTo([textFileLogObserver(sys.stderr)], redirectStandardIO=False)
    db = prepare_database(args.db, args.demo)
    server = Server(db, resolve(args.db), reactor, limits, args.payment_delay)

    @inlineCallbacks
    def begin():
        yield server.start()
        port = listen(reactor, server.factory, args)
        server.ports.append(port)
        if args.metrics_port is not None:
            metrics = reactor.listenTCP(
                args.metrics_port, server.metrics.site(), interface=args.host
            )
            server.ports.append(metrics)
            where = metrics.getHost()
            print(f"metrics on http://{where.host}:{where.port}/metrics", flush=True)
        address = port.getHost()
        print(f"warung-server listening on {address.host}:{address.port}", flush=True)

    exit_code = 0

    def failed(failure: Any) -> None:
        nonlocal exit_code
        exit_code = 1
        print(f"warung-server: cannot start: {failure.getErrorMessage()}", file=sys.stderr)
        reactor.stop()

    reactor.callWhenRunning(lambda: begin().addErrback(failed))
    reactor.addSystemEventTrigger("before", "shutdown", server.shutdown)
    reactor.run()  # its SIGINT and SIGTERM handlers stop it (draining); SIGCHLD reaps the writer
    return exit_code


def listen(reactor: Any, factory: WarungFactory, args: Namespace) -> Any:
    if args.tls_cert:
        with open(args.tls_cert, "rb") as cert, open(args.tls_key or args.tls_cert, "rb") as key:
            context = ssl.PrivateCertificate.loadPEM(cert.read() + key.read()).options()
        return reactor.listenSSL(args.port, factory, context, interface=args.host)
    return reactor.listenTCP(args.port, factory, interface=args.host)
