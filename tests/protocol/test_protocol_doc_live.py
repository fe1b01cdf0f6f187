"""What PROTOCOL.md says of closes (a FIN or a reset), of the first request and of cursors
holds for a live server."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from protocol import rules
from tests.e2e.harness import ServerProcess, Servers
from tests.e2e.raw import RawConnection, header

HELLO_TIMEOUT_S, HEARTBEAT_S = 1, 1  # shortened, so the silent closes come soon


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    limits = (
        "--limit",
        f"hello_timeout_s={HELLO_TIMEOUT_S}",
        "--limit",
        f"heartbeat_s={HEARTBEAT_S}",
    )
    with Servers(tmp_path_factory.mktemp("doc")) as started:
        yield started.start(*limits)


def ending(conn: RawConnection) -> str:
    """How the server ends the connection: "FIN" (end of stream) or "RST" (reset)."""
    conn.sock.settimeout(conn.timeout)
    try:
        while conn.sock.recv(65536):
            pass
    except ConnectionResetError:
        return "RST"
    return "FIN"


@pytest.mark.parametrize(
    ("first", "error_id", "code"),
    [
        ({"id": 7, "op": "ping"}, 7, "bad_request"),  # the first request is not hello
        ({"op": "hello"}, None, "bad_request"),  # an envelope without id
        (
            {"id": 3, "op": "hello", "args": {"protocol": 9, "client": "t"}},
            3,
            "unsupported_version",
        ),
    ],
)
def test_an_error_before_hello_is_followed_by_a_fin(live, first, error_id, code):
    conn = RawConnection(live.port)
    conn.send(first)
    assert conn.answer(error_id)["error"]["code"] == code
    assert ending(conn) == "FIN"


def test_a_frame_over_the_limit_gets_a_fin_then_a_reset(live):
    conn = RawConnection(live.port)
    conn.hello()
    conn.send_bytes(header(rules.DEFAULT_MAX_FRAME + 1))
    assert conn.answer(None)["error"]["code"] == "too_large"
    assert ending(conn) == "FIN"
    deadline = time.monotonic() + 10
    with pytest.raises((BrokenPipeError, ConnectionResetError)):  # the reset after the grace
        while time.monotonic() < deadline:
            conn.send_bytes(b"more")
            time.sleep(0.05)


def test_a_silent_client_is_reset(live):
    before_hello = RawConnection(live.port)
    assert ending(before_hello) == "RST"
    after_hello = RawConnection(live.port)
    after_hello.hello()
    assert ending(after_hello) == "RST"


def test_a_half_close_is_answered_with_a_fin(live):
    conn = RawConnection(live.port)
    conn.hello()
    conn.sock.shutdown(socket.SHUT_WR)
    assert ending(conn) == "FIN"


def test_a_cursor_may_be_reused_with_another_limit(live):
    with live.client("customer") as shop:
        first = shop.call("catalog.list", limit=2)
        rest = shop.call("catalog.list", limit=5, cursor=first["next_cursor"])
        whole = shop.call("catalog.list", limit=7)
    assert [p["id"] for p in first["items"] + rest["items"]] == [p["id"] for p in whole["items"]]
