"""TLS: the same protocol inside TLS, with the server's certificate checked by the SDK."""

import asyncio
import ssl
import subprocess

import pytest

from protocol.client import AsyncClient
from tests.e2e.test_slow_reader import QUEUE_LIMITS, assert_pushes_dropped_as_a_gap


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    where = tmp_path_factory.mktemp("tls")
    cert, key = where / "cert.pem", where / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=IP:127.0.0.1,DNS:localhost",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def test_a_client_speaks_the_protocol_over_tls(servers, certificate):
    cert, key = certificate
    server = servers.start("--tls-cert", str(cert), "--tls-key", str(key))
    trusted = ssl.create_default_context(cafile=str(cert))

    async def run():
        async with await server.async_client("customer", tls=trusted) as c:
            return c.hello, await c.call("catalog.list", limit=3)

    hello, page = asyncio.run(run())
    assert hello["protocol"] == 1 and len(page["items"]) == 3

    async def untrusted():
        async with AsyncClient("127.0.0.1", server.port, tls=True, reconnect=False):
            pass

    with pytest.raises(ssl.SSLCertVerificationError):
        asyncio.run(untrusted())
    # The connection set itself up in full under TLS too (socket options, producer,
    # timeouts): nothing failed on the way.
    assert "Traceback" not in "".join(server.log)


def test_a_client_that_stopped_reading_over_tls_gets_a_seq_gap(servers, certificate):
    """The byte budget reads what the TLS transport, and the TCP one under it, hold."""
    cert, key = certificate
    shop = servers.start("--tls-cert", str(cert), "--tls-key", str(key), *QUEUE_LIMITS)
    assert_pushes_dropped_as_a_gap(shop, ssl.create_default_context(cafile=str(cert)))
