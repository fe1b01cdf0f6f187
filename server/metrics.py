"""Prometheus metrics: what an operator watches (requests, latency, connections, commits).

Counters are updated on the reactor thread as requests are answered; the rest is read
from the live objects when Prometheus scrapes, so keeping it costs nothing in between.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.twisted import MetricsResource
from twisted.web.resource import IResource, Resource
from twisted.web.server import Site

from protocol.ops import REGISTRY

UNKNOWN_OP = "(unknown)"
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)


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
            "warung_request_seconds",
            "Time from a request's arrival to its answer",
            ["op"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
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

    def watch(self, factory: Any, dbx: Any, hub: Any) -> None:
        """Report the live state of the server at each scrape."""
        self.registry.register(_LiveState(factory, dbx, hub))

    def site(self) -> Site:
        root = Resource()
        # IResource(...) is the resource itself, as the type mypy cannot read off zope.
        root.putChild(b"metrics", IResource(MetricsResource(registry=self.registry)))
        return Site(root)


class _LiveState(Collector):
    def __init__(self, factory: Any, dbx: Any, hub: Any) -> None:
        self.factory, self.dbx, self.hub = factory, dbx, hub

    def collect(self) -> Iterator[Metric]:
        conns = self.factory.connections
        yield GaugeMetricFamily("warung_connections", "Open connections", value=len(conns))
        yield GaugeMetricFamily(
            "warung_connections_paused",
            "Connections whose send buffer is full (pushes conflated)",
            value=sum(1 for c in conns if c.paused),
        )
        yield GaugeMetricFamily(
            "warung_stock_subscribers",
            "Connections subscribed to stock events",
            value=len(self.hub.subscriptions) + len(self.hub.everything),
        )
        yield CounterMetricFamily(
            "warung_db_writes", "Write transactions committed or rolled back", value=self.dbx.writes
        )
        yield CounterMetricFamily(
            "warung_db_group_commits", "Commits of batched writes", value=self.dbx.batches
        )
        yield CounterMetricFamily(
            "warung_db_writer_busy_seconds",
            "Time the writer spent in batches",
            value=self.dbx.busy_s,
        )
