"""The server's log over a real run: `--log-format json --log-file` writes JSON lines, rotated
by size, with a line per connection opened and closed and per failed request, a flood of
failed requests as a few lines and a summary, and no secret of the run; the text format says
the same in words."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import ServerProcess, Servers, wait_until
from tests.e2e.raw import RawConnection
from tests.e2e.secret_run import run_with_secrets

ROTATE_BYTES = 2048
FLOOD = 300
PER_WINDOW = 5  # the access log's failed-request lines per address and code a window


class CountedSocket:
    """A socket that counts the bytes it sends and receives."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.sent = self.received = 0

    def sendall(self, data: bytes) -> None:
        self.sent += len(data)
        self.sock.sendall(data)

    def recv(self, size: int) -> bytes:
        data = self.sock.recv(size)
        self.received += len(data)
        return data

    def __getattr__(self, name: str) -> Any:
        return getattr(self.sock, name)


@dataclass
class Session:
    """A connection that failed a request before and after signing in as the clerk."""

    anonymous_id: int  # of its `cart.get`, refused before the sign-in
    forbidden_id: int  # of its `admin.user.list`, refused to the clerk
    sent: int
    received: int


def clerk_session(server: ServerProcess, source: str = "127.0.0.1") -> Session:
    conn = RawConnection(server.port, source=source)
    counted = conn.sock = CountedSocket(conn.sock)  # type: ignore[assignment]
    conn.hello()
    anonymous = conn.request("cart.get")
    assert conn.answer(anonymous)["error"]["code"] == "unauthenticated"
    assert conn.call("auth.login", username="clerk", password=server.passwords["clerk"])["ok"]
    forbidden = conn.request("admin.user.list")
    assert conn.answer(forbidden)["error"]["code"] == "forbidden"
    conn.sock.shutdown(socket.SHUT_WR)
    assert conn.closed_by_server()
    conn.close()
    return Session(anonymous, forbidden, counted.sent, counted.received)


def flood(server: ServerProcess, source: str) -> None:
    """`FLOOD` refused requests on one connection from `source`."""
    conn = RawConnection(server.port, source=source)
    conn.hello()
    for _ in range(FLOOD):
        conn.request("cart.get")
    for _ in range(FLOOD):
        assert conn.receive(lambda m: "id" in m)["error"]["code"] == "unauthenticated"
    conn.close()


def log_files(path: Path) -> list[Path]:
    """The file and its rotated ones, oldest first (PATH.1 is the newest rotated)."""
    rotated = sorted(path.parent.glob(path.name + ".*"), key=lambda p: int(p.suffix[1:]))
    return [*reversed(rotated), path]


@dataclass
class JsonRun:
    files: list[Path]
    lines: list[str]
    secrets: list[str]
    session: Session


@pytest.fixture(scope="module")
def json_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JsonRun]:
    """One server run with `--log-format json --log-file` rotating every `ROTATE_BYTES`: the
    secrets run, the clerk's session from 127.0.0.1 and a flood from 127.0.0.2; stopped, so
    every line (and the flood's summary) is written."""
    where = tmp_path_factory.mktemp("logs")
    path = where / "server.jsonl"
    with Servers(where) as servers:
        server = servers.start(
            *("--log-format", "json", "--log-file", str(path)),
            *("--log-rotate-bytes", str(ROTATE_BYTES), "--log-keep", "1000"),
        )
        secrets = run_with_secrets(server) + list(server.passwords.values())
        session = clerk_session(server)
        flood(server, "127.0.0.2")
        server.stop()
    files = log_files(path)
    lines = [line for f in files for line in f.read_text().splitlines()]
    yield JsonRun(files, lines, secrets, session)


def events(run: JsonRun, **fields: Any) -> list[dict[str, Any]]:
    found = [json.loads(line) for line in run.lines]
    return [e for e in found if all(e.get(k) == v for k, v in fields.items())]


def test_every_line_is_one_json_object_with_time_level_and_message(json_run: JsonRun) -> None:
    assert len(json_run.lines) > 20
    for line in json_run.lines:
        entry = json.loads(line)
        assert entry["ts"].endswith("Z") and entry["level"] in {"info", "warn", "error"}
        assert isinstance(entry["message"], str) and entry["namespace"]


def test_the_file_is_rotated_by_size_and_no_line_is_split(json_run: JsonRun) -> None:
    *rotated, current = json_run.files
    assert len(rotated) >= 2, "expected the log to have been rotated"
    for old in rotated:
        text = old.read_text()
        assert len(text.encode()) >= ROTATE_BYTES and text.endswith("\n")
    assert current.stat().st_mode & 0o777 == 0o640


def test_a_connection_has_an_opened_and_a_closed_line_with_its_user_bytes_and_time(
    json_run: JsonRun,
) -> None:
    session = json_run.session
    [forbidden] = events(
        json_run, event="request.failed", code="forbidden", request_id=session.forbidden_id
    )
    conn = forbidden["conn"]
    [opened] = events(json_run, event="conn.opened", conn=conn)
    [closed] = events(json_run, event="conn.closed", conn=conn)
    assert opened["address"] == "127.0.0.1" and opened["namespace"] == "warung.access"
    assert (closed["address"], closed["user"], closed["how"]) == ("127.0.0.1", "clerk", "closed")
    assert (closed["bytes_in"], closed["bytes_out"]) == (session.sent, session.received)
    assert 0 <= closed["duration_s"] < 60
    assert opened["ts"] <= closed["ts"]


def test_a_failed_request_has_a_line_with_op_code_request_id_and_user(json_run: JsonRun) -> None:
    session = json_run.session
    [forbidden] = events(
        json_run, event="request.failed", code="forbidden", request_id=session.forbidden_id
    )
    assert (forbidden["op"], forbidden["code"], forbidden["user"]) == (
        "admin.user.list",
        "forbidden",
        "clerk",
    )
    [anonymous] = events(
        json_run, event="request.failed", conn=forbidden["conn"], code="unauthenticated"
    )
    assert (anonymous["request_id"], anonymous["op"]) == (session.anonymous_id, "cart.get")
    assert anonymous["user"] is None and anonymous["address"] == "127.0.0.1"


def test_a_flood_of_failed_requests_is_a_few_lines_and_one_summary(json_run: JsonRun) -> None:
    lines = events(json_run, event="request.failed", address="127.0.0.2")
    [summary] = events(json_run, event="request.failed.summary", address="127.0.0.2")
    assert len(lines) == PER_WINDOW
    assert summary["suppressed"] == FLOOD - PER_WINDOW
    assert (summary["op"], summary["code"]) == ("cart.get", "unauthenticated")
    assert summary["conn"] == lines[0]["conn"] and summary["first"] <= summary["last"]


def test_no_password_token_or_totp_secret_or_code_in_the_log(json_run: JsonRun) -> None:
    assert events(json_run, event="conn.closed", user="rahasia"), "the secrets run is logged"
    text = "\n".join(json_run.lines)
    for secret in json_run.secrets:
        assert secret not in text


def test_the_text_format_says_the_same_in_words(servers: Servers) -> None:
    server = servers.start()
    session = clerk_session(server)

    def closed_logged() -> str | None:
        text = "".join(server.log)
        return text if " closed from 127.0.0.1, user clerk" in text else None

    log = wait_until(closed_logged, what="the connection's closed line")
    [conn] = re.findall(r"\[warung\.access#info\] conn (\d+) opened from 127\.0\.0\.1\n", log)
    assert (
        f"conn {conn} request {session.anonymous_id} cart.get failed: unauthenticated "
        "(from 127.0.0.1)\n" in log
    )
    assert (
        f"conn {conn} request {session.forbidden_id} admin.user.list failed: forbidden "
        "(from 127.0.0.1, user clerk)\n" in log
    )
    closed = (
        f"conn {conn} closed from 127.0.0.1, user clerk: {session.sent} bytes in, "
        rf"{session.received} out, \d+\.\d{{3}} s\n"
    )
    assert re.search(closed, log)


def test_a_log_file_that_cannot_be_opened_is_a_usage_error(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-dir" / "server.log"
    done = subprocess.run(
        [sys.executable, "-m", "server.cli", "serve", "--log-file", str(missing)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "cannot open the log file" in done.stderr
