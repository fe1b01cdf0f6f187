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
from twisted.logger import Logger, globalLogBeginner
from twisted.python.failure import Failure

from db.url import resolve
from server import gc_tuning
from server.app import Server
from server.database import prepare_database
from server.factory import WarungFactory
from server.health import monitoring_site
from server.limits import Limits, with_overrides
from server.log_setup import observers
from server.proxy_gate import ProxyGateFactory
from server.security_log import open_file
from server.sighup import Reloads
from server.tls import CertificateError, ReloadableCertificate, load_certificate, tls_factory

log = Logger()


class ConfigurationError(Exception):
    """An option the server cannot run with (exit status 2)."""


class WarungService(Service):
    """One running server. `exit_code` is 1 once starting has failed; `reloads` is what
    SIGHUP does while it runs."""

    def __init__(
        self, server: Server, args: Namespace, certificate: ReloadableCertificate | None = None
    ) -> None:
        """`certificate`: TLS's, loaded already (`--tls-cert`); None serves without TLS."""
        self.server = server
        self.args = args
        self.certificate = certificate
        self.exit_code = 0
        self._monitoring: Any = None  # the metrics port, open until the drain is over
        self.reloads = Reloads(server.reactor)

    def startService(self) -> None:
        super().startService()
        self.reloads.install()
        Deferred.fromCoroutine(self._begin()).addErrback(self._failed)

    def stopService(self) -> Deferred[None]:
        super().stopService()
        return Deferred.fromCoroutine(self._end())

    async def _end(self) -> None:
        """Drain; the metrics port answers meanwhile (`/readyz`: 503, draining)."""
        try:
            await self.server.shutdown()
        finally:
            self.reloads.uninstall()
            if self._monitoring is not None:
                await self._monitoring.stopListening()

    async def _begin(self) -> None:
        server, args = self.server, self.args
        await server.start()
        port = listen(server.reactor, server.factory, args, self.reloads, self.certificate)
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
    if args.tls_key and not args.tls_cert:
        raise ConfigurationError("--tls-key needs --tls-cert")
    certificate = None
    if args.tls_cert:
        try:
            certificate = load_certificate(args.tls_cert, args.tls_key or args.tls_cert)
        except CertificateError as exc:
            raise ConfigurationError(str(exc)) from None
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
    return WarungService(server, args, certificate)


def serve(args: Namespace, reactor: Any = default_reactor) -> int:
    """Run the server until SIGINT or SIGTERM, which drain it; the exit status."""
    try:
        logs = observers(args)
    except OSError as exc:
        print(f"warung-server: cannot open the log file: {exc}", file=sys.stderr)
        return 2
    try:
        service = build(args, reactor)
    except ConfigurationError as exc:
        print(f"warung-server: {exc}", file=sys.stderr)
        return 2
    globalLogBeginner.beginLoggingTo(logs, redirectStandardIO=False)
    reactor.callWhenRunning(service.startService)
    reactor.addSystemEventTrigger("before", "shutdown", service.stopService)
    gc_tuning.tune()
    reactor.run()  # its SIGINT and SIGTERM handlers stop it (draining); SIGCHLD reaps the writer
    return service.exit_code


def listen(
    reactor: Any,
    factory: WarungFactory,
    args: Namespace,
    reloads: Reloads,
    certificate: ReloadableCertificate | None,
) -> Any:
    """Listen for clients: through TLS with a certificate SIGHUP reloads, and behind the
    PROXY protocol's gate, which comes first on the wire and so outside TLS (what
    `listenSSL` would do, with the gate around it)."""
    wrapped: Any = factory
    if certificate is not None:
        reloads.actions.append(certificate.reload)
        wrapped = tls_factory(certificate, factory)
    gate = ProxyGateFactory(wrapped, factory, args.proxy_from)
    return reactor.listenTCP(args.port, gate, interface=args.host)
