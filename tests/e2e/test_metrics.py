"""`--metrics-port`: Prometheus text that counts what the server really did."""

import json
import re
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families

from protocol.errors import BadRequest, NotFound
from tests.e2e.harness import wait_until

CARD = {"method": "card", "token": "tok"}


def test_metrics_count_requests_outcomes_and_connections(servers):
    server = servers.start("--metrics-port", "0")
    with server.client("customer") as c:
        for _ in range(3):
            c.call("ping")
        with pytest.raises(NotFound):
            c.call("catalog.get", product_id=999_999)
        for made_up in ("no.such.op", "another.one"):
            with pytest.raises(BadRequest):
                c.call(made_up)
        found = server.metrics()
    assert found['warung_requests_total{op="ping",outcome="ok"}'] == 3
    assert found['warung_requests_total{op="catalog.get",outcome="not_found"}'] == 1
    assert found['warung_request_duration_seconds_count{op="ping"}'] == 3
    # Op names clients make up share one label: they cannot grow the metrics without bound.
    assert found['warung_requests_total{op="(unknown)",outcome="bad_request"}'] == 2
    assert not [name for name in found if "no.such.op" in name or "another.one" in name]
    assert found['warung_connections{state="signed_in"}'] == 1
    assert found["warung_db_writes_total"] >= 1  # the sign-in wrote its session


def families(server) -> list[Metric]:
    """The server's metric families, as Prometheus's own parser reads its /metrics."""
    text = urllib.request.urlopen(server.metrics_url, timeout=10).read().decode()
    return list(text_string_to_metric_families(text))


def busy_server(servers):
    """A server that has answered requests, committed writes and pushed stock values, so
    that its labelled metrics have samples."""
    server = servers.start("--metrics-port", "0")
    with server.client("clerk") as watcher, server.client("customer") as buyer:
        watcher.call("stock.subscribe", all=True)
        product = next(p for p in buyer.call("catalog.list")["items"] if p["stock"] > 2)
        buyer.call("cart.add", product_id=product["id"])
        buyer.call("order.checkout", idempotency_key="m-1", payment=CARD)
        wait_until(lambda: server.metrics()['warung_pushes_total{outcome="sent"}'] >= 1)
    return server


UNITS_NOT_BASE = re.compile(
    r"_(ms|milliseconds|microseconds|us|ns|nanoseconds|minutes|hours|days|kb|kib|mb|mib|"
    r"gb|percent|ratio_percent)(_|$)"
)


def convention_problems(family: Metric) -> list[str]:
    name, problems = family.name, []
    if not name.startswith(("warung_", "process_")):
        problems.append("no warung_ prefix")
    if not family.documentation.strip():
        problems.append("no HELP")
    for sample in family.samples:
        if family.type == "counter" and not sample.name.endswith(("_total", "_created")):
            problems.append(f"counter sample {sample.name} does not end in _total")
        if family.type != "counter" and sample.name.endswith("_total"):
            problems.append(f"{family.type} sample {sample.name} ends in _total")
    if UNITS_NOT_BASE.search(name):
        problems.append("a unit that is not a base unit (seconds, bytes)")
    for word, unit in (("second", "_seconds"), ("duration", "_seconds"), ("byte", "_bytes")):
        if word in name and not name.endswith(unit):
            problems.append(f"mentions {word} but does not end in {unit}")
    return problems


def test_metric_names_follow_prometheus_conventions(servers):
    found = families(busy_server(servers))
    assert {f.name for f in found} >= {
        "warung_requests",
        "warung_request_duration_seconds",
        "warung_connections",
        "warung_pushes",
        "warung_db_writes_pending",
        "warung_db_commit_writes",
        "warung_ready",
    }
    assert {f.name: convention_problems(f) for f in found if convention_problems(f)} == {}


DASHBOARD = Path(__file__).parents[2] / "deploy" / "grafana-dashboard.json"
PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool"}
PROMQL_WORDS |= {"and", "or", "unless", "offset", "inf", "nan"}


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression reads: identifiers that are not functions,
    keywords, labels (in `{...}` or `by (...)`) or Grafana variables."""
    expr = re.sub(r'"[^"]*"', "", expr)
    expr = re.sub(r"\{[^}]*\}|\[[^\]]*\]|\$\w+", " ", expr)
    expr = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", " ", expr)
    names = set(re.findall(r"\b([a-zA-Z_:][\w:]*)\b(?!\s*\()", expr))
    return names - PROMQL_WORDS


def grouping_labels(expr: str) -> set[str]:
    return {
        label.strip()
        for group in re.findall(r"\bby\s*\(([^)]*)\)", expr)
        for label in group.split(",")
    }


def dashboard_queries() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    return exprs + [v["definition"] for v in dashboard["templating"]["list"] if "definition" in v]


def test_metric_names_of_promql_are_found():
    expr = 'histogram_quantile(0.99, sum by (le, op) (rate(a_bucket{op!="x"}[$__rate_interval])))'
    assert metric_names(expr) == {"a_bucket"} and grouping_labels(expr) == {"le", "op"}
    assert metric_names("sum(rate(a_sum[5m])) / sum(rate(b_count[5m]))") == {"a_sum", "b_count"}
    assert metric_names("label_values(warung_ready, instance)") == {"warung_ready", "instance"}


def alert_queries() -> list[str]:
    """The `expr:` of the alerts docs/operations.md suggests."""
    guide = (Path(__file__).parents[2] / "docs" / "operations.md").read_text()
    return re.findall(r"^\s+expr: (.+)$", guide, re.MULTILINE)


def test_the_grafana_dashboard_and_the_alerts_read_only_metrics_the_server_exports(servers):
    found = families(busy_server(servers))
    labels: dict[str, set[str]] = {}
    for family in found:
        for sample in family.samples:
            labels.setdefault(sample.name, set()).update(sample.labels)
    scraped = {"instance", "job", "up"}  # Prometheus adds them to what it scrapes
    assert len(alert_queries()) >= 2
    for expr in dashboard_queries() + alert_queries():
        assert metric_names(expr), f"no metric in {expr!r}"
        names = metric_names(expr) - scraped
        assert names <= set(labels), f"{expr!r} reads {names - set(labels)}, not exported"
        known = scraped.union(*(labels[name] for name in names))
        assert grouping_labels(expr) <= known, f"{expr!r} groups by a label no metric has"
