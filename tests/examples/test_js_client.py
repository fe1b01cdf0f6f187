"""examples/js, the Node.js client written from PROTOCOL.md alone, against a live server and
the test vectors: the spec's claim that a client can be written from it is checked here.

Needs `node` and `examples/js/node_modules` (`npm ci --prefix examples/js`). Without them the
tests skip, unless CI=true: then they fail, since `.ci/run` installs them.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.harness import ServerProcess, Servers

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "js"
VECTORS = EXAMPLE.parents[1] / "protocol" / "testvectors.json"
SPEC = EXAMPLE.parents[1] / "PROTOCOL.md"
RUN_TIMEOUT_S = 120
RATE_PER_S, BURST, PINGS = 50, 10, 100


@pytest.fixture(scope="module")
def node() -> str:
    """The node binary, once examples/js has its packages; else skip (fail under CI=true)."""
    found = shutil.which("node")
    if found is None:
        problem = "node is not installed"
    elif not (EXAMPLE / "node_modules" / "@msgpack" / "msgpack" / "package.json").exists():
        problem = "examples/js has no node_modules (npm ci --prefix examples/js)"
    else:
        return found
    if os.environ.get("CI") == "true":
        pytest.fail(f"{problem}; CI=true, so this fails instead of skipping", pytrace=False)
    pytest.skip(problem)


def run(node: str, script: str, *args: str, password: str | None = None) -> list[str]:
    """`node examples/js/<script> args...`; its stdout lines. Fails with its output if it fails."""
    env = {**os.environ, "WARUNG_PASSWORD": password or ""}
    done = subprocess.run(
        [node, str(EXAMPLE / script), *args],
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        env=env,
        check=False,
    )
    assert done.returncode == 0, f"{script} exited {done.returncode}:\n{done.stdout}{done.stderr}"
    return done.stdout.splitlines()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A demo shop whose request rate is low enough for the pacing test to need pacing."""
    limits = ("--limit", f"rate_per_s={RATE_PER_S}", "--limit", f"burst={BURST}")
    with Servers(tmp_path_factory.mktemp("js")) as started:
        yield started.start(*limits)


def test_vectors_pass_the_js_codec(node: str) -> None:
    """Every vector of protocol/testvectors.json and every frame of PROTOCOL.md section 15:
    decoded to its value and encoded back to its bytes, incomplete frames waited for,
    invalid ones given the error id the spec says."""
    lines = run(node, "vectors.js", str(VECTORS), str(SPEC))
    total = len(json.loads(VECTORS.read_text())["vectors"]) + SPEC.read_text().count("```hex\n")
    assert lines[-1] == f"{total} of {total} frames pass", "\n".join(lines)
    assert sum(line.startswith("ok ") for line in lines) == total


def test_js_demo_buys_and_sees_the_stock_push(node: str, server: ServerProcess) -> None:
    password = server.passwords["customer"]
    lines = run(node, "demo.js", "127.0.0.1", str(server.port), "customer", password=password)
    summary = json.loads(lines[-1])
    assert summary["status"] == "paid"
    assert summary["stock_after"] == summary["stock_before"] - summary["qty"]  # from the push

    with server.client("customer") as shop:
        order = shop.call("order.get", order_id=summary["order_id"])
        product = shop.call("catalog.get", product_id=summary["product_id"])
    assert order["status"] == "paid"
    assert order["payment"]["status"] == "captured"
    assert order["total"] == summary["total"]
    assert [(line["product_id"], line["qty"]) for line in order["lines"]] == [
        (summary["product_id"], summary["qty"])
    ]
    assert product["stock"] == summary["stock_after"]


def test_js_pacer_keeps_pipelined_pings_within_the_rate(node: str, server: ServerProcess) -> None:
    """The client's token bucket (examples/js/pacer.js, PROTOCOL.md section 7) sends ten
    times the burst without one request refused as rate_limited."""
    [line] = run(node, "pings.js", "127.0.0.1", str(server.port), str(PINGS))
    report = json.loads(line)
    assert report["limits"]["rate_per_s"] == RATE_PER_S and report["limits"]["burst"] == BURST
    assert report["answered"] == PINGS
    assert report["retries"] == 0
