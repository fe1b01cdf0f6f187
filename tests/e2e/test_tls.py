"""TLS: the same protocol inside TLS, with the server's certificate checked by the SDK."""

import asyncio
import socket
import ssl
import subprocess
import sys

import pytest

from protocol.client import AsyncClient
from tests.e2e.certs import make_certificate
from tests.e2e.harness import Servers
from tests.e2e.test_config import cli
from tests.e2e.test_slow_reader import QUEUE_LIMITS, assert_pushes_dropped_as_a_gap


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    return make_certificate(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory, certificate):
    cert, key = certificate
    with Servers(tmp_path_factory.mktemp("tls-suites")) as started:
        yield started.start("--tls-cert", str(cert), "--tls-key", str(key))


def _handshake_tls12(port: int, suite: str) -> str:
    """The suite the server agrees to when a TLS 1.2 client offers only `suite`."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.minimum_version = context.maximum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(f"{suite}:@SECLEVEL=0")
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
        context.wrap_socket(raw) as tls,
    ):
        agreed = tls.cipher()
        assert agreed is not None
        return agreed[0]


@pytest.mark.parametrize(
    "suite",
    [
        "AES128-SHA",  # static RSA key exchange, CBC with SHA-1
        "AES256-GCM-SHA384",  # static RSA key exchange, even with AEAD
        "ECDHE-RSA-AES128-SHA",  # forward secret, but CBC with SHA-1
        "ECDHE-RSA-AES256-SHA384",  # forward secret, but CBC
    ],
)
def test_tls12_refuses_suites_without_forward_secrecy_or_aead(tls_server, suite):
    with pytest.raises(ssl.SSLError):
        _handshake_tls12(tls_server.port, suite)


@pytest.mark.parametrize(
    "suite",
    ["ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-RSA-AES256-GCM-SHA384", "ECDHE-RSA-CHACHA20-POLY1305"],
)
def test_tls12_accepts_forward_secret_aead_suites(tls_server, suite):
    assert _handshake_tls12(tls_server.port, suite) == suite


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


def test_a_certificate_that_cannot_be_loaded_ends_the_start_before_the_database(tmp_path):
    """Refused with its file, its reason and the options to fix, exit status 2, and before
    the database is opened (it used to be read once the writer was up: status 1)."""
    db = tmp_path / "shop.db"
    done = cli(
        "serve", "--db", f"sqlite:///{db}", "--port", "0", "--tls-cert", "none.pem", cwd=tmp_path
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("warung-server: cannot load the TLS certificate none.pem")
    assert "No such file or directory" in done.stderr and "--tls-cert" in done.stderr
    assert not db.exists()


def test_the_shell_speaks_tls_trusting_the_ca_it_is_given(tls_server, certificate):
    cert, _ = certificate
    argv = [sys.executable, "-m", "client_shell.cli", "--port", str(tls_server.port)]
    trusted = subprocess.run(
        [*argv, "--tls-ca", str(cert), "-c", "ping"], capture_output=True, text=True, timeout=20
    )
    assert trusted.returncode == 0 and '"time": ' in trusted.stdout, trusted.stderr
    untrusted = subprocess.run(
        [*argv, "--tls", "-c", "ping"], capture_output=True, text=True, timeout=20
    )
    assert untrusted.returncode == 1 and "CERTIFICATE_VERIFY_FAILED" in untrusted.stderr


def test_the_shell_says_a_ca_file_it_cannot_load(tmp_path):
    missing = tmp_path / "no-such-ca.pem"
    run = subprocess.run(
        [sys.executable, "-m", "client_shell.cli", "--tls-ca", str(missing), "-c", "ping"],
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert run.returncode == 1
    assert run.stderr.startswith(f"warung-shell: cannot load the CA file {missing}:")
    assert "Traceback" not in run.stderr
