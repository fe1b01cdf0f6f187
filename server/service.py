"""`warung-server serve` as a Twisted service: the one way the server starts and stops.

`warung-server serve` runs it on the reactor itself (`serve`); `twistd` and `twist` run the
same service from the plugin. Starting opens the database threads and the writer, then
listens; stopping drains (`Server.shutdown`) before the reactor stops.
"""

from __future__ import annotations

import sys
from argparse import Namespace
from typing import Any

from twisted.application.service import Service
from twisted.internet import reactor as default_reactor
from twisted.internet.defer import Deferred
from twisted.logger import ILogObserver, Logger, globalLogBeginner, textFileLogObserver
from twisted.python.failure import Failure

from db.url import resolve
from server.app import Server
from server.database import prepare_database
from server.factory import WarungFactory
from server.health import monitoring_site
from server.limits import Limits, with_overrides
from server.security_log import open_file
from server.tls import tls_options

log = Logger()


class ConfigurationError(Exception):
    """An option the server cannot run with (exit status 2)."""


class WarungService(Service):
    """One running server. `exit_code` is 1 once starting has failed."""

    def __init__(self, server: Server, args: Namespace) -> None:
        self.server = server
        self.args = args
        self.exit_code = 0
        self._monitoring: Any = None  # the metrics port, open until the drain is over

    def startService(self) -> None:
        super().startService()
        Deferred.fromCoroutine(self._begin()).addErrback(self._failed)

    def stopService(self) -> Deferred[None]:
        super().stopService()
        return Deferred.fromCoroutine(self._end())

    async def _end(self) -> None:
        """Drain; the metrics port answers meanwhile (`/readyz`: 503, draining)."""
        try:
            await self.server.shutdown()
        finally:
            if self._monitoring is not None:
                await self._monitoring.stopListening()

    async def _begin(self) -> None:
        server, args = self.server, self.args
        await server.start()
        port = listen(server.reactor, server.factory, args)
        server.ports.append(port)
        if args.metrics_port is not None:
            site = monitoring_site(server.readiness, server.metrics.resource())
            self._monitoring = server.reactor.listenTCP(
                args.metrics_port, site, interface=args.metrics_host
            )
            where = self._monitoring.getHost()
            print(f"metrics on http://{where.host}:{where.port}/metrics", flush=True)
        address = port.getHost()
        print(f"warung-server listening on {address.host}:{address.port}", flush=True)

    def _failed(self, failure: Failure) -> None:
        self.exit_code = 1
        print(f"warung-server: cannot start: {failure.getErrorMessage()}", file=sys.stderr)
        self.server.reactor.stop()


def build(args: Namespace, reactor: Any) -> WarungService:
    """The service for `args`: limits checked, logs opened, the database prepared (migrated,
    with `--demo` the demo shop), all before the reactor runs."""
    try:
        limits = with_overrides(Limits(), args.limit)
    except ValueError as exc:
        raise ConfigurationError(str(exc)) from None
    try:
        security_write = None if args.security_log is None else open_file(args.security_log)
    except OSError as exc:
        raise ConfigurationError(f"cannot open the security log: {exc}") from None
    db = prepare_database(args.db, args.demo)
    server = Server(db, resolve(args.db), reactor, limits, args.payment_delay)
    if security_write is not None:
        server.security.write_to(security_write)
    return WarungService(server, args)


def serve(args: Namespace, reactor: Any = default_reactor) -> int:
    """Run the server until SIGINT or SIGTERM, which drain it; the exit status."""
    try:
        service = build(args, reactor)
    except ConfigurationError as exc:
        print(f"warung-server: {exc}", file=sys.stderr)
        return 2
    observer = ILogObserver(textFileLogObserver(sys.stderr))  # mypy cannot see @implementer
    globalLogBeginner.beginLoggingTo([observer], redirectStandardIO=False)
    reactor.callWhenRunning(service.startService)
    reactor.addSystemEventTrigger("before", "shutdown", service.stopService)
    reactor.run()  # its SIGINT and SIGTERM handlers stop it (draining); SIGCHLD reaps the writer
    return service.exit_code


def listen(reactor: Any, factory: WarungFactory, args: Namespace) -> Any:
    if args.tls_cert:
        context = tls_options(args.tls_cert, args.tls_key or args.tls_cert)
        return reactor.listenSSL(args.port, factory, context, interface=args.host)
    return reactor.listenTCP(args.port, factory, interface=args.host)
