"""`twist warung` and `twistd -n warung` (twisted/plugins/warung_plugin.py) run the server of
`warung-server serve`, with its options: they start, answer `hello`, and drain on SIGTERM."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import pytest

from tests.e2e.certs import fingerprint, make_certificate, served_fingerprint
from tests.e2e.harness import LISTENING, TWIST, TWISTD, Servers, wait_until
from tests.e2e.raw import RawConnection
from tests.e2e.shopdb import facts

RUNNERS = {"twist": TWIST, "twistd": TWISTD}
CARD = {"method": "card", "token": "tok"}


@pytest.mark.parametrize("runner", RUNNERS)
def test_the_plugin_serves_and_drains_on_sigterm(servers: Servers, runner: str) -> None:
    server = servers.start("--payment-delay", "1", command=RUNNERS[runner])
    greeter = RawConnection(server.port)
    hello = greeter.hello()
    greeter.close()
    assert hello["ok"] and hello["result"]["protocol"] == 1
    with server.client("customer") as c:
        product = next(p for p in c.call("catalog.list")["items"] if p["stock"] > 2)
        c.call("cart.add", product_id=product["id"])
    raw = server.raw("customer")
    checkout = raw.request("order.checkout", idempotency_key="twist-1", payment=CARD)
    wait_until(lambda: facts(server.db_url, product["id"])["orders"], what="the pending order")
    assert server.proc is not None
    server.proc.terminate()
    notice = raw.receive(lambda m: m.get("event") == "server.shutdown")
    assert notice["data"]["reason"] == "draining"
    answer = raw.answer(checkout)
    assert answer["ok"] and answer["result"]["status"] == "paid"
    assert raw.closed_by_server()
    # Twisted's runners end by the signal they stopped on, as a service manager expects.
    assert server.proc.wait(30) == -signal.SIGTERM
    log = "".join(server.log)
    assert "writes in" in log and "Traceback" not in log  # the writer was stopped in order
    assert facts(server.db_url, product["id"])["orders"] == {"paid": 1}


@pytest.mark.parametrize(
    ("options", "status", "message"),
    [
        (["--port", "http"], 2, "'http' is not a port number"),
        (["--tls-key", "key.pem"], 2, "--tls-key needs --tls-cert"),
        (["--log-format", "json"], 1, "under twist and twistd the runner writes the log"),
    ],
)
def test_the_plugin_takes_the_serve_options_and_their_errors(
    tmp_path: Path, options: list[str], status: int, message: str
) -> None:
    done = subprocess.run(
        [*RUNNERS["twist"], "--db", f"sqlite:///{tmp_path / 'shop.db'}", *options],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (done.returncode, message in done.stderr) == (status, True), done.stderr


def test_the_plugin_help_is_the_serve_help() -> None:
    done = subprocess.run([*RUNNERS["twist"], "--help"], capture_output=True, text=True)
    assert done.returncode == 0
    assert "--tls-cert FILE" in done.stdout and "--payment-delay SECONDS" in done.stdout


def test_under_twistd_sigusr1_rotates_its_log_file_and_sighup_reloads_the_certificate(
    tmp_path: Path,
) -> None:
    """twistd's --logfile is rotated on SIGUSR1 by twistd itself; SIGHUP is the server's."""
    cert, key = make_certificate(tmp_path / "tls")
    log_file = tmp_path / "twistd.log"
    twistd, *_ = TWISTD
    argv = [twistd, "--nodaemon", "--pidfile=", f"--logfile={log_file}", "warung"]
    argv += ["--db", f"sqlite:///{tmp_path / 'shop.db'}", "--port", "0", "--demo"]
    argv += ["--tls-cert", str(cert), "--tls-key", str(key)]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        found = wait_until(lambda: LISTENING.search(_text(log_file)), 60, "listening")
        proc.send_signal(signal.SIGUSR1)
        wait_until(lambda: (tmp_path / "twistd.log.1").exists(), what="the rotated log")
        proc.send_signal(signal.SIGHUP)
        wait_until(lambda: "reloaded the TLS certificate" in _text(log_file), what="reload")
        assert served_fingerprint(int(found.group(2))) == fingerprint(cert)
        assert proc.poll() is None
    finally:
        proc.terminate()
        proc.wait(30)
    assert "listening on" in _text(tmp_path / "twistd.log.1")


def _text(path: Path) -> str:
    return path.read_text() if path.exists() else ""
