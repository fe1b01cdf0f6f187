"""`twist warung` and `twistd -n warung` (twisted/plugins/warung_plugin.py) run the server of
`warung-server serve`, with its options: they start, answer `hello`, and drain on SIGTERM."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.harness import Servers, wait_until
from tests.e2e.raw import RawConnection
from tests.e2e.shopdb import facts

BIN = Path(sys.executable).parent
RUNNERS = {
    "twist": (str(BIN / "twist"), "--log-format", "text", "warung"),
    "twistd": (str(BIN / "twistd"), "--nodaemon", "--pidfile=", "warung"),
}
CARD = {"method": "card", "token": "tok"}


@pytest.mark.parametrize("runner", RUNNERS)
def test_the_plugin_serves_and_drains_on_sigterm(servers: Servers, runner: str) -> None:
    server = servers.start("--payment-delay", "1", command=RUNNERS[runner])
    hello = RawConnection(server.port).hello()
    assert hello["ok"] and hello["result"]["protocol"] == 1
    with server.client("customer") as c:
        product = next(p for p in c.call("catalog.list")["items"] if p["stock"] > 2)
        c.call("cart.add", product_id=product["id"])
    raw = server.raw("customer")
    checkout = raw.request("order.checkout", idempotency_key="twist-1", payment=CARD)
    wait_until(lambda: facts(server.db_url, product["id"])["orders"], what="the pending order")
    assert server.proc is not None
    server.proc.terminate()
    assert raw.receive(lambda m: m.get("event") == "server.shutdown")["data"]["reason"] == (
        "draining"
    )
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
        (["--tls-key", "key.pem"], 1, "--tls-key needs --tls-cert"),
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
