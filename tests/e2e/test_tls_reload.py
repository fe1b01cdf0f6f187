"""SIGHUP reloads the TLS certificate: new connections get the new one, open connections go
on undisturbed, and files that cannot be used are logged and leave the current one in place.
Under `warung-server serve` and under `twistd` alike."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import ssl
from pathlib import Path

import pytest

from tests.e2e.certs import fingerprint, make_certificate, served_fingerprint
from tests.e2e.harness import SERVE, TWISTD, ServerProcess, Servers, wait_until

RELOADED = "reloaded the TLS certificate"
KEPT = "kept the TLS certificate in use"


def install(cert: Path, key: Path, live: Path) -> None:
    """Put a certificate and key where the server reads them, as an admin's renewal would:
    each file replaced whole (written aside, then renamed over)."""
    for source, name in ((cert, "cert.pem"), (key, "key.pem")):
        shutil.copyfile(source, live / f".{name}.new")
        os.replace(live / f".{name}.new", live / name)


def hang_up(server: ServerProcess, after: str, seen: int) -> None:
    """SIGHUP, then wait until the log says `after` for the `seen`-th time."""
    assert server.proc is not None
    server.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: "".join(server.log).count(after) >= seen, what=f"{after!r} logged")


@pytest.fixture
def live(tmp_path: Path) -> Path:
    """The directory the server's --tls-cert and --tls-key point into."""
    where = tmp_path / "live"
    where.mkdir()
    return where


@pytest.mark.parametrize("command", [SERVE, TWISTD], ids=["serve", "twistd"])
def test_sighup_gives_new_connections_the_new_certificate_and_keeps_open_ones(
    servers: Servers, tmp_path: Path, live: Path, command: tuple[str, ...]
) -> None:
    old, new = make_certificate(tmp_path / "old"), make_certificate(tmp_path / "new")
    install(*old, live)
    server = servers.start(
        "--tls-cert", str(live / "cert.pem"), "--tls-key", str(live / "key.pem"), command=command
    )
    assert served_fingerprint(server.port) == fingerprint(old[0])
    # This client trusts only the old certificate and does not reconnect: its calls after
    # the reload can only succeed on the connection it opened before.
    trusts_old = ssl.create_default_context(cafile=str(old[0]))

    async def run() -> None:
        async with await server.async_client("customer", tls=trusts_old, reconnect=False) as client:
            install(*new, live)
            await asyncio.to_thread(hang_up, server, RELOADED, 1)
            assert served_fingerprint(server.port) == fingerprint(new[0])
            page = await client.call("catalog.list", limit=2)
            assert len(page["items"]) == 2

    asyncio.run(run())
    trusts_new = ssl.create_default_context(cafile=str(new[0]))

    async def sign_in_anew() -> None:
        async with await server.async_client("clerk", tls=trusts_new, reconnect=False) as c:
            await c.call("catalog.list", limit=1)

    asyncio.run(sign_in_anew())


def test_files_that_cannot_be_used_leave_the_current_certificate(
    servers: Servers, tmp_path: Path, live: Path
) -> None:
    current, other = make_certificate(tmp_path / "current"), make_certificate(tmp_path / "other")
    install(*current, live)
    server = servers.start("--tls-cert", str(live / "cert.pem"), "--tls-key", str(live / "key.pem"))
    cert, key = live / "cert.pem", live / "key.pem"
    breakages = [
        lambda: cert.write_text("not a certificate\n"),
        lambda: cert.write_bytes(current[0].read_bytes()[:300]),  # cut short mid-write
        lambda: (shutil.copyfile(other[0], cert), shutil.copyfile(current[1], key)),  # mismatch
        lambda: key.unlink(),
    ]
    for seen, breakage in enumerate(breakages, start=1):
        breakage()
        hang_up(server, KEPT, seen)
        assert served_fingerprint(server.port) == fingerprint(current[0])
    assert "".join(server.log).count(fingerprint_colons(current[0])) >= len(breakages)
    install(*other, live)
    hang_up(server, RELOADED, 1)
    assert served_fingerprint(server.port) == fingerprint(other[0])
    assert "Traceback" not in "".join(server.log)


def fingerprint_colons(cert: Path) -> str:
    """`fingerprint` as OpenSSL and the server's log print it: AB:CD:..."""
    digest = fingerprint(cert).upper()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))
