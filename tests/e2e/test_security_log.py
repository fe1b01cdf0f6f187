"""The security log of a real server, `--security-log FILE`: sign-ins, refusals, throttles
and privileged changes as JSON lines, floods cut to a few lines and a count, and never a
password or token in the file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.e2e.harness import ServerProcess, Servers, wait_until
from tests.e2e.raw import RawConnection

LINES_PER_WINDOW = 5  # server.security_log.LINES_PER_WINDOW, as documented
FLOOD = 400


def entries(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def of(path: Path, event: str) -> list[dict[str, Any]]:
    return [e for e in entries(path) if e["event"] == event]


def counted(lines: list[dict[str, Any]]) -> int:
    """How many events `lines` stand for: one a line, `suppressed` a summary."""
    return sum(e["suppressed"] if e.get("summary") else 1 for e in lines)


def start(servers: Servers, path: Path, *limits: str) -> ServerProcess:
    extra = ["--security-log", str(path)]
    for limit in limits:
        extra += ["--limit", limit]
    return servers.start(*extra)


def test_sign_ins_a_refusal_and_a_change_are_lines_with_user_and_address(servers, tmp_path):
    path = tmp_path / "security.jsonl"
    server = start(servers, path)
    password = server.passwords["customer"]
    typed_in_the_name = "Wr0ng-Field!secret"
    conn = RawConnection(server.port)
    conn.hello()
    assert conn.call("auth.login", username="customer", password="not the password")["error"]
    assert conn.call("auth.login", username=typed_in_the_name, password="x")["error"]
    token = conn.call("auth.login", username="customer", password=password)["result"]["token"]
    refused = conn.call("clerk.restock", product_id=1, qty=1, reason="try")
    assert refused["error"]["code"] == "forbidden"
    clerk = server.raw("clerk")
    assert clerk.call("clerk.restock", product_id=1, qty=2, reason="delivery")["ok"]

    wait_until(lambda: of(path, "privileged.change"), what="the change's line")
    failed = of(path, "auth.login.failed")
    assert [(e["username"], e["address"]) for e in failed] == [
        ("customer", "127.0.0.1"),
        ("wr0n…", "127.0.0.1"),  # the start of what cannot be a name, not all of it
    ]
    [ok] = [e for e in of(path, "auth.login.ok") if e["username"] == "customer"]
    assert ok["user_id"] is not None and ok["address"] == "127.0.0.1"
    [forbidden] = of(path, "authz.forbidden")
    assert (forbidden["op"], forbidden["role"], forbidden["user_id"]) == (
        "clerk.restock",
        "customer",
        ok["user_id"],
    )
    [change] = of(path, "privileged.change")
    assert (change["op"], change["role"], change["username"], change["target"]) == (
        "clerk.restock",
        "clerk",
        "clerk",
        "product:1",
    )
    assert all(e["ts"].endswith("Z") and e["ts"][10] == "T" for e in entries(path))
    text = path.read_text()
    for secret in (password, server.passwords["clerk"], token, typed_in_the_name, "not the"):
        assert secret not in text


def test_a_flood_of_throttled_sign_ins_is_a_few_lines_and_a_summary_that_counts_all(
    servers, tmp_path
):
    path = tmp_path / "security.jsonl"
    server = start(servers, path, "failed_logins_per_address_per_min=2")
    conn = RawConnection(server.port, timeout=60)
    conn.hello()
    ids = [conn.request("auth.login", username="customer", password="guess") for _ in range(FLOOD)]
    codes = [conn.answer(i)["error"]["code"] for i in ids]
    throttled, failed = codes.count("rate_limited"), codes.count("unauthenticated")
    assert throttled > FLOOD / 2 and failed >= 1
    server.stop()  # a stopping server writes the summaries its windows still count

    lines = of(path, "auth.throttled")
    assert len([e for e in lines if not e.get("summary")]) <= LINES_PER_WINDOW
    assert [e for e in lines if e.get("summary")], "no summary of the throttled sign-ins"
    assert counted(lines) == throttled
    assert counted(of(path, "auth.login.failed")) == failed
    assert len(entries(path)) < 4 * LINES_PER_WINDOW


def test_a_request_flood_is_a_few_lines_and_a_summary_that_counts_all(servers, tmp_path):
    path = tmp_path / "security.jsonl"
    server = start(servers, path, "rate_per_s=1", "burst=5")
    conn = RawConnection(server.port, timeout=60)
    conn.hello()
    ids = [conn.request("ping") for _ in range(5 * FLOOD)]
    throttled = sum(not conn.answer(i)["ok"] for i in ids)
    assert throttled >= 5 * FLOOD - 10
    server.stop()

    lines = of(path, "request.throttled")
    assert len(lines) <= LINES_PER_WINDOW + 1
    [summary] = [e for e in lines if e.get("summary")]
    assert (summary["op"], summary["reason"], summary["address"]) == ("ping", "rate", "127.0.0.1")
    assert counted(lines) == throttled


def test_without_the_option_the_lines_go_to_the_servers_log(servers):
    server = servers.start()
    conn = RawConnection(server.port)
    conn.hello()
    assert conn.call("cart.get")["error"]["code"] == "unauthenticated"
    line = wait_until(
        lambda: next((s for s in server.log if "authz.unauthenticated" in s), None),
        what="the security line in the server's log",
    )
    entry = json.loads(line[line.index("{") :])
    assert (entry["op"], entry["address"]) == ("cart.get", "127.0.0.1")


def test_a_security_log_that_cannot_be_opened_stops_the_start(tmp_path):
    missing = tmp_path / "no-such-dir" / "security.jsonl"
    serve = [sys.executable, "-m", "server.cli", "serve", "--db", f"sqlite:///{tmp_path / 's.db'}"]
    done = subprocess.run(
        [*serve, "--port", "0", "--security-log", str(missing)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert done.returncode == 2
    assert "cannot open the security log" in done.stderr and "listening" not in done.stdout
