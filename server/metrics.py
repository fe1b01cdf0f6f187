"""Prometheus metrics: what an operator watches (requests, latency, connections, pushes, the
database writer, readiness).

Names follow Prometheus's conventions: a `warung_` prefix, counters ending in `_total`,
times in `_seconds`. Requests are counted on the reactor thread as they are answered, and
pushes in plain integers (`PushCounts`) as they are sent; everything else is read from the
live objects when Prometheus scrapes, so keeping it costs nothing in between.
docs/operations.md says what each one means.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    ProcessCollector,
    disable_created_metrics,
)
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector
from twisted.web.resource import IResource, Resource
from twisted.web.server import Request

from protocol.ops import REGISTRY

UNKNOWN_OP = "(unknown)"
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)
# No `_created` series: in the text format each is one more series per labelled child, which
# Prometheus stores as a gauge of its own, for a time the process start already gives.
disable_created_metrics()
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)  # the writer commits at most 256 at once
CONNECTION_STATES = ("handshaking", "anonymous", "signed_in", "paused", "closing", "draining")


@dataclass(slots=True)
class PushCounts:
    """Pushes to connections since the start: `sent` (written to the socket or its
    transport), `conflated` (a held stock value or order replaced by a newer one before it
    could be sent) and `dropped` (past the push budget or the client's `max_frame`: the
    client sees a `seq` gap). Plain integers: they move on every push."""

    sent: int = 0
    conflated: int = 0
    dropped: int = 0


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "warung_requests",
            "Requests answered, by op and outcome (ok or the error code)",
            ["op", "outcome"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "warung_request_duration_seconds",
            "Time from a request's arrival to its answer",
            ["op"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.pushes = PushCounts()
        ProcessCollector(namespace="", registry=self.registry)  # CPU, memory, open files
        # The labelled children, looked up once: `labels()` costs more than the update.
        self._counts: dict[tuple[str, str], Any] = {}
        self._latencies: dict[str, Any] = {}

    def answered(self, op: str, outcome: str, seconds: float) -> None:
        if op not in REGISTRY:  # any string a client sends: one label for them all, not one each
            op = UNKNOWN_OP
        count = self._counts.get((op, outcome))
        if count is None:
            count = self._counts[op, outcome] = self.requests.labels(op, outcome)
        latency = self._latencies.get(op)
        if latency is None:
            latency = self._latencies[op] = self.latency.labels(op)
        count.inc()
        latency.observe(seconds)

    def watch(self, factory: Any, dbx: Any, hub: Any, readiness: Any) -> None:
        """Report the live state of the server at each scrape."""
        self.registry.register(_LiveState(factory, dbx, hub, readiness, self.pushes))

    def resource(self) -> IResource:
        """`/metrics`: the registry in Prometheus's text format."""
        # IResource(...) is the resource itself, as the type mypy cannot read off zope.
        return IResource(_MetricsPage(self.registry))


class _MetricsPage(Resource):
    """The registry, collected on the reactor thread: the live state it reads (the set of
    connections, the writer's counts) changes only there. (prometheus_client's own Twisted
    resource collects on a pool thread, where iterating that set can fail mid-change.)"""

    isLeaf = True

    def __init__(self, registry: CollectorRegistry) -> None:
        super().__init__()
        self.registry = registry

    def render_GET(self, request: Request) -> bytes:
        accept = request.getHeader(b"accept")
        encoder, content_type = choose_encoder(accept.decode("latin-1") if accept else "")
        request.setHeader(b"content-type", content_type.encode())
        return encoder(self.registry)


def connection_state(conn: Any, draining: bool) -> str:
    """The one state a connection is counted in, the first that holds of: closing,
    draining (the server is), paused (its send buffer is full), handshaking (no hello
    yet), anonymous, signed_in."""
    if conn.closing:
        return "closing"
    if draining:
        return "draining"
    if conn.paused:
        return "paused"
    if not conn.greeted:
        return "handshaking"
    return "anonymous" if conn.identity is None else "signed_in"


class _LiveState(Collector):
    def __init__(self, factory: Any, dbx: Any, hub: Any, readiness: Any, pushes: PushCounts):
        self.factory, self.dbx, self.hub = factory, dbx, hub
        self.readiness, self.pushes = readiness, pushes

    def collect(self) -> Iterator[Metric]:
        yield self._connections()
        yield GaugeMetricFamily(
            "warung_stock_subscribers",
            "Connections subscribed to stock events",
            value=len(self.hub.subscriptions) + len(self.hub.everything),
        )
        pushes = CounterMetricFamily(
            "warung_pushes", "Pushes to connections, by outcome", labels=["outcome"]
        )
        for outcome in ("sent", "conflated", "dropped"):
            pushes.add_metric([outcome], getattr(self.pushes, outcome))
        yield pushes
        queued = self.factory.queued_total
        yield GaugeMetricFamily(
            "warung_queued_bytes",
            "Bytes queued to all connections and not sent yet, as last charged (at most this)",
            value=queued.total,
        )
        yield CounterMetricFamily(
            "warung_connections_shed",
            "Connections closed because all connections together held what the server may queue",
            value=queued.shed_count,
        )
        yield from self._database()
        yield GaugeMetricFamily(
            "warung_draining", "1 while the server drains before it stops", value=self.draining
        )
        yield GaugeMetricFamily(
            "warung_ready",
            "The last readiness check's answer (1 ready, 0 not): /readyz's, or the one the "
            "previous scrape started",
            value=self.readiness.ready,
        )
        self.readiness.refresh()  # for the next scrape: one check at a time, whoever asks

    @property
    def draining(self) -> int:
        return int(self.factory.draining)

    def _connections(self) -> Metric:
        counts = dict.fromkeys(CONNECTION_STATES, 0)
        draining = self.factory.draining
        for conn in self.factory.connections:
            counts[connection_state(conn, draining)] += 1
        family = GaugeMetricFamily(
            "warung_connections", "Open connections, by state", labels=["state"]
        )
        for state, n in counts.items():
            family.add_metric([state], n)
        return family

    def _database(self) -> Iterator[Metric]:
        dbx = self.dbx
        yield CounterMetricFamily(
            "warung_db_writes", "Write transactions committed or rolled back", value=dbx.writes
        )
        yield CounterMetricFamily(
            "warung_db_writer_busy_seconds",
            "Time the SQLite writer spent running batches",
            value=dbx.busy_s,
        )
        yield GaugeMetricFamily(
            "warung_db_writes_pending",
            "Writes submitted to the writer and not yet committed (its queue)",
            value=dbx.pending,
        )
        yield GaugeMetricFamily(
            "warung_db_writes_held",
            "Writes waiting in the server for a slot of their connection's at the writer",
            value=dbx.held,
        )
        yield GaugeMetricFamily(
            "warung_db_writer_up", "1 while the database writer takes writes", value=dbx.writer_up
        )
        sizes = dbx.batch_sizes
        yield HistogramMetricFamily(
            "warung_db_commit_writes",
            "Writes per commit (the writer's batch size)",
            buckets=[
                (str(bound), sum(n for size, n in sizes.items() if size <= bound))
                for bound in BATCH_BUCKETS
            ]
            + [("+Inf", sum(sizes.values()))],
            sum_value=sum(size * n for size, n in sizes.items()),
        )
