"""`/healthz` and `/readyz` on the metrics port of a real server: ready, not ready while the
database or its writer is down or while the server drains, and loopback only by default."""

from __future__ import annotations

import os
import signal
import socket
import urllib.error
import urllib.request
from urllib.parse import urlsplit, urlunsplit

import pytest

from tests.e2e.harness import ServerProcess, Servers, wait_until
from tests.e2e.proxy import CuttableProxy
from tests.e2e.shopdb import facts
from tests.e2e.test_writer import writer_of

CARD = {"method": "card", "token": "tok"}


def probe(server: ServerProcess, path: str) -> tuple[int, str]:
    """The status and body of GET `path` on the server's metrics port."""
    assert server.metrics_url is not None
    url = server.metrics_url.removesuffix("/metrics") + path
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as refused:
        return refused.code, refused.read().decode()


def readiness_is(server: ServerProcess, status: int) -> str | None:
    """The body of /readyz once it answers `status`, else None (for `wait_until`)."""
    found, body = probe(server, "/readyz")
    return body if found == status else None


def test_a_serving_server_is_healthy_and_ready(servers: Servers) -> None:
    server = servers.start("--metrics-port", "0")
    assert probe(server, "/healthz") == (200, "ok\n")
    assert probe(server, "/readyz") == (200, "ready\n")
    assert server.metrics()["warung_ready"] == 1


def test_readyz_is_503_while_the_sqlite_writer_restarts(servers: Servers) -> None:
    server = servers.start("--metrics-port", "0")
    assert probe(server, "/readyz")[0] == 200
    os.kill(writer_of(server), signal.SIGKILL)
    reason = wait_until(lambda: readiness_is(server, 503), what="/readyz to say 503")
    assert reason == "the database writer is down\n"
    assert probe(server, "/healthz")[0] == 200  # the process still serves
    wait_until(lambda: readiness_is(server, 200), timeout=30, what="the new writer")
    with server.client("customer") as c:  # and writes work again
        product = c.call("catalog.list")["items"][0]
        c.call("cart.add", product_id=product["id"])


@pytest.mark.pg
def test_readyz_follows_postgresql_going_away_and_coming_back(
    servers: Servers, pg_schema_url: str
) -> None:
    parts = urlsplit(pg_schema_url)
    assert parts.port is not None
    proxy = CuttableProxy(parts.port)
    try:
        through = parts._replace(netloc=parts.netloc.replace(f":{parts.port}", f":{proxy.port}"))
        server = servers.start("--metrics-port", "0", db_url=urlunsplit(through))
        assert probe(server, "/readyz") == (200, "ready\n")
        proxy.down()
        reason = wait_until(lambda: readiness_is(server, 503), what="/readyz to say 503")
        assert reason.startswith("the database does not answer")
        assert server.metrics()["warung_ready"] == 0
        proxy.up()
        wait_until(lambda: readiness_is(server, 200), timeout=30, what="/readyz back to 200")
    finally:
        proxy.close()


def test_readyz_is_503_while_draining(servers: Servers) -> None:
    server = servers.start("--metrics-port", "0", "--payment-delay", "3")
    with server.client("customer") as c:
        product = next(p for p in c.call("catalog.list")["items"] if p["stock"] > 2)
        c.call("cart.add", product_id=product["id"])
    raw = server.raw("customer")
    checkout = raw.request("order.checkout", idempotency_key="ready-1", payment=CARD)
    wait_until(lambda: facts(server.db_url, product["id"])["orders"], what="the pending order")
    assert probe(server, "/readyz")[0] == 200
    assert server.proc is not None
    server.proc.terminate()
    reason = wait_until(lambda: readiness_is(server, 503), what="/readyz to say draining")
    assert reason.startswith("draining")
    assert server.metrics()["warung_draining"] == 1
    assert raw.answer(checkout)["result"]["status"] == "paid"  # the drain was still going on
    assert server.proc.wait(30) == 0


def own_address() -> str:
    """An address of this machine that is not loopback (skips the test if it has none)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        try:
            udp.connect(("198.51.100.1", 9))  # no packet is sent: this only picks a route
        except OSError:
            pytest.skip("this machine has no route off loopback")
        address = udp.getsockname()[0]
    if address.startswith("127."):
        pytest.skip("this machine has no address off loopback")
    return address


def reachable(address: str, port: int) -> bool:
    try:
        socket.create_connection((address, port), timeout=5).close()
    except ConnectionRefusedError:
        return False
    return True


def test_metrics_and_health_listen_on_loopback_unless_told(servers: Servers) -> None:
    address = own_address()
    default = servers.start("--host", "0.0.0.0", "--metrics-port", "0")
    assert default.metrics_url is not None
    metrics_port = urlsplit(default.metrics_url).port
    assert metrics_port is not None
    assert reachable(address, default.port)  # the shop's port is, on this address
    assert not reachable(address, metrics_port)
    assert probe(default, "/healthz")[0] == 200  # on 127.0.0.1
    told = servers.start("--metrics-port", "0", "--metrics-host", "0.0.0.0")
    assert told.metrics_url is not None
    told_port = urlsplit(told.metrics_url).port
    assert told_port is not None
    assert reachable(address, told_port)
