"""What all connections together may queue stays within one budget, and when it is full the
connections holding the most are closed, not the ones that read.

A StringTransport keeps every byte written to it, as a client that has stopped reading would
leave them in the server's buffer; `transport.clear()` is a client that reads.
"""

from typing import Any

from protocol.framing import encode
from protocol.ops import Op
from server.dispatch import Call
from server.limits import Limits
from server.queued_total import ROOM_LEFT, QueuedTotal
from tests.server.test_connection import Transport, make, read, say_hello, signed_in
from tests.server.test_turn_output import PairTransport, received

TOTAL = 100_000
LIMITS = Limits(max_queued_bytes=70_000, max_queued_bytes_total=TOTAL)


class Holder:
    def __init__(self, queued: int = 0) -> None:
        self.charged = 0
        self.queued = queued  # what it holds now: the sum sees it at a charge or a recount
        self.shed_with: int | None = None

    def queued_bytes(self) -> int:
        return self.queued

    def shed(self, queued: int) -> None:
        self.shed_with = queued
        self.queued = 0


def charge(total: QueuedTotal, holder: Holder, queued: int) -> bool:
    holder.queued = queued
    return total.charge(holder, queued)


def test_charges_within_the_budget_add_up_and_a_release_takes_its_own_off():
    total = QueuedTotal(1000)
    a, b = Holder(), Holder()
    assert charge(total, a, 300) and charge(total, b, 600)
    assert charge(total, a, 400)  # a charge replaces the holder's last one
    assert total.total == 1000
    total.release(b)
    assert total.total == 400 and b.charged == 0 and total.holders == {a}


def test_bytes_sent_since_a_charge_are_counted_before_anyone_is_closed():
    total = QueuedTotal(1000)
    a, b = Holder(), Holder()
    assert charge(total, a, 900)
    a.queued = 100  # the kernel took most of it since: the sum does not know yet
    assert charge(total, b, 800)
    assert (a.shed_with, b.shed_with) == (None, None)
    assert total.total == 900 and a.charged == 100


def test_past_the_budget_the_largest_holders_are_closed_until_a_quarter_is_free():
    total = QueuedTotal(1000)
    small, middle, large = Holder(), Holder(), Holder()
    for holder, queued in ((small, 100), (middle, 300), (large, 500)):
        assert charge(total, holder, queued)
    writer = Holder()
    assert charge(total, writer, 200)  # 1100 in all: the largest goes, 600 is left
    assert (large.shed_with, middle.shed_with, small.shed_with) == (500, None, None)
    assert total.total == 600 <= 1000 * ROOM_LEFT
    assert total.holders == {small, middle, writer}
    assert total.shed_count == 1


def test_a_writer_among_the_largest_is_closed_itself_and_not_charged():
    total = QueuedTotal(1000)
    reader = Holder()
    assert charge(total, reader, 100)
    hoarder = Holder()
    assert charge(total, hoarder, 800)
    assert not charge(total, hoarder, 1100)
    assert hoarder.shed_with == 1100 and reader.shed_with is None
    assert total.total == 100 and total.holders == {reader}


def big(call: Call) -> dict[str, Any]:
    return {"categories": ["c" * 1000] * 20}  # about 20 KB


def first() -> tuple[Any, Transport]:
    """A signed-in connection to a server whose `catalog.categories` answers 20 KB."""
    conn, transport, _, _ = make(LIMITS, **{Op.CATALOG_CATEGORIES: big})
    say_hello(conn, transport)
    signed_in(conn)
    return conn, transport


def connect(factory: Any) -> tuple[Any, Transport]:
    """Another signed-in connection to the same server."""
    conn = factory.buildProtocol(None)
    transport = Transport()
    conn.makeConnection(transport)
    say_hello(conn, transport)
    signed_in(conn)
    return conn, transport


def ask(conn: Any, request_id: int) -> None:
    conn.dataReceived(encode({"id": request_id, "op": "catalog.categories"}))


def test_clients_that_stop_reading_are_closed_before_one_that_reads_loses_an_answer():
    """Three connections that never read each ask for three answers (each within its own
    budget, together past the server's); one that reads asks between them. The reader gets
    every answer, the server never holds more than its budget, and those closed to keep it
    there are the ones that stopped reading."""
    hoarders = [first()]
    factory = hoarders[0][0].factory
    events: list[dict[str, Any]] = []
    factory.security.listeners.append(events.append)
    hoarders += [connect(factory), connect(factory)]
    reader, reader_transport = connect(factory)
    for request_id in range(2, 5):
        for conn, _ in hoarders:
            ask(conn, request_id)
            assert factory.queued_total.total <= TOTAL
        ask(reader, request_id)
        assert read(reader_transport)[-1]["id"] == request_id
        assert factory.queued_total.total <= TOTAL

    assert not reader_transport.disconnecting
    shed = [conn for conn, transport in hoarders if transport.disconnecting]
    assert len(shed) >= 2 and all(conn.closing for conn in shed)
    assert [(e["event"], e["reason"]) for e in events] == [
        ("conn.closed", "server_queue_full")
    ] * len(shed)


def test_a_client_that_stops_reading_is_closed_itself_when_it_holds_the_most():
    hoarder, transport = first()
    reader, reader_transport = connect(hoarder.factory)
    ask(reader, 2)  # about 20 KB the reader has not read yet
    for request_id in range(2, 5):  # about 60 KB, within its own budget
        ask(hoarder, request_id)
    assert not transport.disconnecting
    ask(reader, 3)  # past 100 KB in all: the larger holder goes
    assert transport.disconnecting and not reader_transport.disconnecting
    assert [answer["id"] for answer in read(reader_transport)] == [2, 3]


def test_a_closed_connection_leaves_the_sum():
    conn, _ = first()
    ask(conn, 2)
    total = conn.factory.queued_total
    assert total.total > 20_000 and total.holders == {conn}
    conn.connectionLost()
    assert total.total == 0 and not total.holders


def test_a_client_that_reads_leaves_the_sum_once_the_kernel_has_taken_its_answer(pair):
    """Over a real socket: the answer is charged while it waits for the end of the turn,
    and nothing once the socket has taken it, so readers never make the server recount."""
    conn, _ = first()
    factory = conn.factory
    ours, theirs = pair
    reader = factory.buildProtocol(None)
    reader.makeConnection(PairTransport(ours))
    say_hello_over(reader, factory.clock, theirs)
    signed_in(reader)
    ask(reader, 2)
    assert reader.charged > 20_000 and reader in factory.queued_total.holders
    factory.clock.advance(0)  # the end of the turn: sent
    assert len(received(theirs)) > 20_000
    assert reader.charged == 0 and reader not in factory.queued_total.holders


def say_hello_over(conn: Any, clock: Any, theirs: Any) -> None:
    conn.dataReceived(encode({"id": 1, "op": "hello", "args": {"protocol": 1, "client": "t"}}))
    clock.advance(0)
    assert received(theirs)


def test_a_connection_reset_for_another_reason_leaves_the_sum_at_once():
    """Before `connectionLost`, a turn later: a shedding meanwhile must not count it, nor
    close it, again."""
    conn, transport = first()
    ask(conn, 2)
    conn.timeoutConnection()
    assert transport.disconnecting and conn.charged == 0 and not conn.factory.queued_total.holders
