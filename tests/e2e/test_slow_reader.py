"""A client that stops reading: what is queued to it stays within its budget (issue 14,
item 3). Over real sockets, so the budget reads the real transport's buffer.

One account signed in twice: one connection stops reading, the other buys and cancels, and
every order change is pushed to both. The silent one's pushes past its budget are dropped as
a `seq` gap; when it reads again it finds the gap and a connection that still answers.
"""

import socket
import ssl
import uuid

from protocol.framing import encode
from tests.e2e.harness import ServerProcess, wait_until
from tests.e2e.raw import RawConnection

BUDGET = 32_768  # for pushes
ROUNDS = 80  # checkouts and cancels: about 240 order pushes of some 500 bytes, 120 KB
CARD = {"method": "card", "token": "tok"}


PIPELINED = 30  # catalog.list answers of 200 products, about 1 MB: within one's own budget
QUEUE_LIMITS = ("--limit", f"max_queued_push_bytes={BUDGET}", "--limit", "send_buffer_bytes=4096")


def test_order_pushes_to_a_client_that_stopped_reading_are_dropped_as_a_seq_gap(servers):
    assert_pushes_dropped_as_a_gap(servers.start(*QUEUE_LIMITS))


def assert_pushes_dropped_as_a_gap(shop: ServerProcess, tls: ssl.SSLContext | None = None) -> None:
    """The check, over TCP or (with `tls`, the server's too) over TLS."""
    silent = RawConnection(shop.port, timeout=20, receive_buffer=4096)
    if tls is not None:
        silent.sock = tls.wrap_socket(silent.sock, server_hostname="127.0.0.1")
    silent.hello()
    login = silent.call("auth.login", username="customer", password=shop.passwords["customer"])
    assert login["ok"]

    with shop.client("customer", **({} if tls is None else {"tls": tls})) as buyer:
        product = next(p for p in buyer.call("catalog.list", limit=200)["items"] if p["stock"])

        def buy_and_cancel() -> None:
            buyer.call("cart.add", product_id=product["id"], qty=1)
            order = buyer.checkout(CARD, str(uuid.uuid4()))
            buyer.call("order.cancel", order_id=order["id"])

        for _ in range(ROUNDS):
            buy_and_cancel()
        pong = silent.request("ping")
        assert silent.answer(pong)["ok"]  # it reads again: what was queued, then the answer
        received = [message["seq"] for message in silent.inbox if "event" in message]
        silent.inbox.clear()
        buy_and_cancel()  # a push now: its seq counts those dropped since the last one
        received.append(silent.receive(lambda message: "event" in message)["seq"])
    silent.close()

    assert received == sorted(received) and received[0] == 1
    assert received[-1] > 3 * ROUNDS  # every change took its number, sent or not
    assert len(received) < received[-1] / 2  # more than half were dropped: a gap to see


def test_a_client_that_half_closes_while_its_replies_wait_gets_them_all_then_eof(servers):
    """PROTOCOL.md 6.5: the client shuts its sending side with replies still queued (the
    server's sends paused, its buffers full): every reply arrives, then the server's FIN,
    long before the silence timeout."""
    shop = servers.start("--limit", "send_buffer_bytes=4096")
    token = customer_token(shop)
    for _ in range(5):
        conn = slow_reader(shop, token)
        asked = [conn.request("catalog.list", limit=200) for _ in range(PIPELINED)]
        conn.sock.shutdown(socket.SHUT_WR)
        answered = [conn.answer(request_id)["id"] for request_id in asked]
        assert answered == asked
        assert conn.closed_by_server(), "the server's FIN, after the last reply"
        conn.close()


TOTAL = 2_000_000  # bytes all connections together may queue, in the test below


def test_clients_that_stop_reading_are_closed_when_together_they_hold_what_the_server_may_queue(
    servers,
):
    """PROTOCOL.md 7: twelve connections each pipeline 1 MB of answers and do not read,
    6x what the server may queue in all. Those holding most are reset to keep it within its
    budget; a client that reads gets every answer meanwhile, and every one of the twelve is
    either reset or, when it reads at last, answered in full."""
    shop = servers.start(
        "--metrics-port", "0", "--limit", f"max_queued_bytes_total={TOTAL}", *QUEUE_LIMITS
    )
    token = customer_token(shop)
    hoarders = [slow_reader(shop, token) for _ in range(12)]
    asked = [pages_at_once(conn) for conn in hoarders]
    with shop.client("customer") as reader:
        for _ in range(20):
            assert len(reader.call("catalog.list", limit=200)["items"]) == 200

    served = [conn for conn, ids in zip(hoarders, asked, strict=True) if answered_all(conn, ids)]
    shed = int(shop.metrics()["warung_connections_shed_total"])  # final: every one was read
    assert shed >= 8 and len(served) == len(hoarders) - shed
    wait_until(
        lambda: (
            sum("among the most while the server holds all" in line for line in shop.log) == shed
        ),
        what="a log line for each connection reset",
    )
    assert any("server_queue_full" in line for line in shop.log)  # the security log's, gated
    for conn in hoarders:
        conn.close()


def answered_all(conn: RawConnection, ids: list[int]) -> bool:
    """Reads every answer to `ids`: True, or False when the server reset the connection."""
    try:
        return [conn.answer(request_id)["id"] for request_id in ids] == ids
    except (ConnectionError, OSError):
        return False


def customer_token(shop: ServerProcess) -> str:
    """A session of the demo customer, for connections to resume (one password check)."""
    conn = shop.raw()
    login = conn.call("auth.login", username="customer", password=shop.passwords["customer"])
    conn.close()
    return str(login["result"]["token"])


def slow_reader(shop: ServerProcess, token: str) -> RawConnection:
    """A connection signed in to `token`'s session, with a small receive buffer."""
    conn = RawConnection(shop.port, timeout=20, receive_buffer=4096)
    conn.hello()
    assert conn.call("auth.resume", token=token)["ok"]
    return conn


def pages_at_once(conn: RawConnection) -> list[int]:
    """`PIPELINED` requests for a catalog page of 200 products, in one send, so that the
    server reads them all before the answers fill the connection's buffers; their ids."""
    ids = list(range(conn.next_id, conn.next_id + PIPELINED))
    conn.next_id += PIPELINED
    requests = [{"id": n, "op": "catalog.list", "args": {"limit": 200}} for n in ids]
    conn.send_bytes(b"".join(encode(request) for request in requests))
    return ids
