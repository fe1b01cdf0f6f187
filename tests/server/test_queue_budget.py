"""Everything queued to a connection stays within its byte budget (issue 14, item 3).

A StringTransport keeps every byte written to it, as a client that has stopped reading
would leave them in the server's buffer; `read()` is the client catching up.
"""

from typing import Any

from twisted.internet.defer import Deferred

from protocol.envelope import PushTemplate
from protocol.framing import encode
from protocol.ops import Op
from server.dispatch import Call
from server.limits import Limits
from tests.server.test_connection import make, read, say_hello, signed_in

BUDGET = 64 * 1024  # for replies
PUSH_BUDGET = BUDGET // 2
LIMITS = Limits(max_queued_bytes=BUDGET, max_queued_push_bytes=PUSH_BUDGET)
NOTE = "x" * 1000  # an order push of about 1.1 KB


def order(order_id: int, **more: Any) -> dict[str, Any]:
    return {
        "id": order_id,
        "customer_id": 7,
        "status": "paid",
        "channel": "online",
        "cancel_reason": None,
        **more,
    }


def test_order_pushes_to_a_client_that_stopped_reading_stay_within_its_budget():
    conn, transport, _, hub = make(LIMITS)
    say_hello(conn, transport)
    hub.watch_user(conn, 7)
    conn.pauseProducing()  # its send buffer is full

    for order_id in range(1, 1001):
        hub.publish_order(order(order_id, note=NOTE))
    assert len(transport.value()) <= PUSH_BUDGET  # not the 1.1 MB of all thousand

    sent = [push["seq"] for push in read(transport)]
    assert sent == list(range(1, len(sent) + 1)) and len(sent) < 1000
    conn.resumeProducing()
    hub.publish_order(order(1001))
    [after] = read(transport)
    assert after["seq"] == 1001  # the dropped ones used their numbers: a gap to notice
    pushes = conn.factory.metrics.pushes
    assert (pushes.sent, pushes.dropped) == (len(sent) + 1, 1000 - len(sent))
    assert not transport.disconnecting


def test_a_paused_staff_connection_holds_orders_within_its_budget():
    conn, transport, _, hub = make(LIMITS)
    say_hello(conn, transport)
    hub.staff.add(conn)
    conn.pauseProducing()

    for order_id in range(1, 1001):  # fewer than MAX_HELD_ORDERS, but 1.1 MB
        hub.publish_order(order(order_id, note=NOTE))
    assert conn.held_bytes <= PUSH_BUDGET
    held = len(conn.pending_orders)
    assert 0 < held < 1000

    conn.resumeProducing()
    pushes = read(transport)
    assert [p["data"]["id"] for p in pushes] == list(range(1, held + 1))
    assert [p["seq"] for p in pushes] == list(range(1000 - held + 1, 1001))  # a gap first
    assert conn.held_bytes == 0


def test_a_held_stock_value_replaced_by_a_newer_one_is_charged_once():
    conn, transport, _, _ = make(LIMITS)
    say_hello(conn, transport)
    conn.pauseProducing()
    for version in range(1, 10_000):
        conn.send_stock(5, PushTemplate("stock", {"product_id": 5, "version": version}))
    assert len(conn.pending_stock) == 1
    assert conn.held_bytes == conn.pending_stock[5].size


def test_replies_past_the_budget_close_the_connection_and_are_logged():
    def big(call: Call) -> dict[str, Any]:
        return {"categories": ["c" * 1000] * 20}  # about 20 KB

    conn, transport, _, _ = make(LIMITS, **{Op.CATALOG_CATEGORIES: big})
    events: list[dict[str, Any]] = []
    conn.factory.security.listeners.append(events.append)
    say_hello(conn, transport)
    signed_in(conn)
    for request_id in range(2, 5):
        conn.dataReceived(encode({"id": request_id, "op": "catalog.categories"}))
    assert not transport.disconnecting  # three answers fit: about 60 KB
    conn.dataReceived(encode({"id": 5, "op": "catalog.categories"}))
    assert transport.disconnecting and conn.closing
    assert len(transport.value()) <= BUDGET
    assert [(e["event"], e["reason"]) for e in events] == [("conn.closed", "queue_full")]


def test_a_late_answer_past_the_budget_closes_too():
    later: Deferred[dict[str, Any]] = Deferred()

    conn, transport, _, _ = make(LIMITS, **{Op.CATALOG_CATEGORIES: lambda call: later})
    say_hello(conn, transport)
    signed_in(conn)
    conn.dataReceived(encode({"id": 2, "op": "catalog.categories"}))
    conn.send_event("order", {"blob": "x" * (PUSH_BUDGET - 100)})  # pushes fill theirs
    later.callback({"categories": ["c" * (PUSH_BUDGET + 100)]})
    assert transport.disconnecting


def test_a_reply_still_fits_when_the_pushes_have_filled_theirs():
    conn, transport, _, hub = make(LIMITS)
    say_hello(conn, transport)
    hub.watch_user(conn, 7)
    for order_id in range(1, 100):
        hub.publish_order(order(order_id, note=NOTE))
    assert PUSH_BUDGET - 2000 < len(transport.value()) <= PUSH_BUDGET
    conn.dataReceived(encode({"id": 2, "op": "ping"}))
    assert read(transport)[-1]["id"] == 2 and not transport.disconnecting
