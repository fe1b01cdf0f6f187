"""`--metrics-port`: Prometheus text that counts what the server really did."""

import pytest

from protocol.errors import BadRequest, NotFound


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
