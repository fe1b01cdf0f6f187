"""Orders a stopped checkout left `pending` are settled promptly (issue 14, item 11): right
after the SQLite writer is back from a crash that took a checkout's last write with it, and
at start in the background, the server listening meanwhile."""

from __future__ import annotations

import array
import fcntl
import os
import signal
import termios
from pathlib import Path

import pytest

from db.models import User
from db.transactions import write_transaction
from protocol.errors import Conflict
from server.idempotency import fingerprint
from server.services.cart import change_cart
from server.services.order_jobs import begin_checkout
from tests.e2e.harness import ServerProcess, Servers, wait_until
from tests.e2e.shopdb import add_product, facts, init_demo, opened
from tests.e2e.test_writer import gone, writer_of

CARD = {"method": "card", "token": "tok"}
SETTLED_WITHIN_S = 15.0  # far below the 60 s sweep and the 120 s lease
STRANDED = 200


@pytest.fixture
def shop_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    init_demo(url)
    return url


def statuses(url: str) -> dict[str, int]:
    """How many orders are in each status, with their payments' status."""
    with opened(url) as db:
        rows = db.execute_sql(
            "SELECT o.status || '/' || p.status, count(*) FROM orders o "
            "JOIN payments p ON p.order_id = o.id GROUP BY o.status, p.status"
        ).fetchall()
    return dict(rows)


def queued_for(pid: int) -> int:
    """How many bytes wait, unread, in the pipe that is process `pid`'s stdin."""
    fd = os.open(f"/proc/{pid}/fd/0", os.O_RDONLY | os.O_NONBLOCK)
    try:
        count = array.array("i", [0])
        fcntl.ioctl(fd, termios.FIONREAD, count)
        return count[0]
    finally:
        os.close(fd)


def test_a_checkout_whose_last_write_died_with_the_writer_is_settled_at_once(
    servers: Servers, shop_url: str
) -> None:
    product = add_product(shop_url, "LOST-1", stock=10)
    server = servers.start("--payment-delay", "1", db_url=shop_url)
    with server.client("customer") as client:
        client.call("cart.add", product_id=product, qty=2)
    raw = server.raw("customer")
    asked = raw.request("order.checkout", idempotency_key="k", payment=CARD)
    pending = raw.receive(lambda m: m.get("event") == "order")  # the server heard the begin
    assert pending["data"]["status"] == "pending", pending
    writer = writer_of(server)
    os.kill(writer, signal.SIGSTOP)  # the payment ends meanwhile: its `mark_paid` waits
    wait_until(lambda: queued_for(writer), what="the checkout's last write")
    os.kill(writer, signal.SIGKILL)  # ... and dies with the writer, never committed
    wait_until(lambda: gone(writer), what="the writer to die")
    answer = raw.answer(asked)
    assert answer["error"]["code"] == "unavailable", answer

    wait_until(
        lambda: "pending/pending" not in statuses(shop_url),
        SETTLED_WITHIN_S,
        "the order to be settled",
    )
    assert statuses(shop_url) == {"paid/captured": 1}, "the provider charged it: kept"
    after = facts(shop_url, product)
    assert after["stock"] == 8 and after["problems"] == []
    with server.client("customer") as client:
        again = client.call("order.checkout", idempotency_key="k", payment=CARD)
        assert again["status"] == "paid", "the key answers the settled order"
        assert client.call("cart.get")["count"] == 0
    raw.close()


def strand_checkouts(url: str, product: int, count: int) -> None:
    """`count` checkouts stopped between their transactions, as a server killed while their
    payments ran would leave them: orders `pending`, stock taken. Each is another
    customer's (a customer has one being paid for at a time), the last the demo customer's."""
    print_ = fingerprint("order.checkout", {"payment": CARD})
    with opened(url) as db, write_transaction(db):
        for n in range(count):
            customer = buyer("customer" if n == count - 1 else f"stranded{n}")
            change_cart(db, customer, product, 1, False, "IDR")
            begin_checkout(db, customer, f"stranded-{n}", print_, "card", "IDR", "fake")


def buyer(username: str) -> int:
    """The id of the customer `username`, made (unable to sign in) if there is none."""
    defaults = {"password_hash": "x", "role": "customer"}
    return int(User.get_or_create(username=username, defaults=defaults)[0].id)


def test_a_start_with_many_pending_orders_listens_first_and_settles_them_meanwhile(
    servers: Servers, shop_url: str
) -> None:
    product = add_product(shop_url, "STRANDED-1", stock=1000)
    server: ServerProcess = servers.start("--payment-delay", "1", db_url=shop_url)
    server.stop()  # it made the demo accounts; now the crash it left behind
    strand_checkouts(shop_url, product, STRANDED)
    # Each provider lookup takes 1 s: settling one by one before listening would take 200 s.
    server.start(server.port)
    with server.client("customer") as client:
        assert "time" in client.call("ping")
        assert statuses(shop_url)["pending/pending"] > 0, "listening before all are settled"
        with pytest.raises(Conflict) as refused:
            client.call("order.checkout", idempotency_key=f"stranded-{STRANDED - 1}", payment=CARD)
        assert refused.value.details == {"field": "idempotency_key", "reason": "in_progress"}

    wait_until(lambda: "pending/pending" not in statuses(shop_url), 60.0, "every order settled")
    assert statuses(shop_url) == {"cancelled/declined": STRANDED}, "never charged: released"
    after = facts(shop_url, product)
    assert after["stock"] == 1000 and after["problems"] == []
