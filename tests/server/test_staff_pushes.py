"""A staff connection that reads slowly: its order pushes wait, the newest per order, and
never more than `MAX_HELD_ORDERS` of them; past that the client is told by a gap in `seq`."""

from typing import Any

import pytest

from protocol.framing import encode
from server import push_producer
from tests.server.test_connection import make, read, say_hello


def paid(order_id: int, status: str = "paid", **more: Any) -> dict[str, Any]:
    return {"id": order_id, "status": status, "channel": "online", "cancel_reason": None, **more}


def test_a_paused_staff_connection_keeps_the_newest_state_of_each_order():
    conn, transport, _, hub = make()
    say_hello(conn, transport)
    hub.staff.add(conn)
    conn.pauseProducing()

    hub.publish_order(paid(1))
    hub.publish_order(paid(2))
    hub.publish_order(paid(1, "shipped"))
    assert transport.value() == b"" and len(conn.pending_orders) == 2
    conn.resumeProducing()

    pushes = read(transport)
    assert [(p["seq"], p["data"]["id"], p["data"]["status"]) for p in pushes] == [
        (1, 2, "paid"),
        (2, 1, "shipped"),
    ]


def test_past_the_orders_it_may_keep_a_paused_connection_sees_a_seq_gap(monkeypatch):
    monkeypatch.setattr(push_producer, "MAX_HELD_ORDERS", 2)
    conn, transport, _, hub = make()
    say_hello(conn, transport)
    hub.staff.add(conn)
    conn.pauseProducing()

    for order_id in (1, 2, 3, 4):
        hub.publish_order(paid(order_id))
    hub.publish_order(paid(2, "shipped"))  # one it keeps: replaced, no gap of its own
    assert len(conn.pending_orders) == 2
    conn.resumeProducing()

    pushes = read(transport)
    assert [(p["seq"], p["data"]["id"]) for p in pushes] == [(3, 1), (4, 2)]
    assert pushes[1]["data"]["status"] == "shipped"


@pytest.mark.parametrize("size", [4096, 10_000])
def test_an_order_larger_than_the_client_accepts_is_skipped_as_a_seq_gap(size):
    conn, transport, _, hub = make()
    conn.dataReceived(
        encode({"id": 1, "op": "hello", "args": {"protocol": 1, "client": "t", "max_frame": 4096}})
    )
    read(transport)
    hub.staff.add(conn)

    hub.publish_order(paid(1, note="x" * (size - 200)))
    hub.publish_order(paid(2))

    expected = [2] if size > 4096 else [1, 2]
    assert [p["seq"] for p in read(transport)] == expected
