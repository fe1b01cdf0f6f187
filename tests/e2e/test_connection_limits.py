"""Connections held open and frames left unfinished, over real sockets (issue 14, item 4)."""

import json
from typing import Any

from tests.e2e.harness import ServerProcess, wait_until
from tests.e2e.raw import RawConnection, header


def security_events(shop: ServerProcess, event: str) -> list[dict[str, Any]]:
    lines = [line.partition("security ")[2] for line in shop.log if " security {" in line]
    return [entry for entry in map(json.loads, lines) if entry["event"] == event]


def test_an_address_holds_at_most_its_share_of_connections_open(servers):
    shop = servers.start("--limit", "max_connections_per_address=3")
    held = [shop.raw() for _ in range(3)]

    refused = RawConnection(shop.port)
    answer = refused.answer(None)
    assert answer["error"]["code"] == "rate_limited"
    assert answer["error"]["details"] == {
        "reason": "address_connections",
        "limit": 3,
        "retry_after_ms": 1000,
    }
    assert refused.closed_by_server()
    refusals = wait_until(lambda: security_events(shop, "conn.refused"), what="a log line")
    assert [(e["address"], e["reason"]) for e in refusals] == [("127.0.0.1", "address_connections")]

    held.pop().close()

    def admitted() -> bool:
        conn = RawConnection(shop.port)
        try:
            return conn.call("hello", protocol=1, client="t").get("ok") is True
        except ConnectionError:
            return False
        finally:
            conn.close()

    wait_until(admitted, what="a place freed by a closed connection")
    for conn in held:
        assert conn.call("ping")["ok"]
        conn.close()


def test_a_frame_left_unfinished_is_reset_at_its_deadline(servers):
    shop = servers.start("--limit", "frame_deadline_s=1")
    raw = shop.raw()
    raw.send_bytes(header(100) + b"\x83")  # and never the rest
    assert raw.closed_by_server()  # long before the 90 s of silence
    [closed] = wait_until(lambda: security_events(shop, "conn.closed"), what="a log line")
    assert closed["reason"] == "frame_deadline" and closed["buffered"] == 5
