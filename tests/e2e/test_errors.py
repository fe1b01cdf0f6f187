"""Every error code a client can provoke over the network: precise, harmless, and local.

After each error the connection (unless the contract closes it) still answers, and the
other clients and the database are untouched.
"""

import sqlite3

import pytest

from protocol.codec import packb
from protocol.errors import (
    Conflict,
    Forbidden,
    InvalidState,
    NotFound,
    OutOfStock,
    PaymentDeclined,
    RateLimited,
    Unauthenticated,
    Unavailable,
)
from protocol.framing import frame
from tests.e2e.harness import wait_until
from tests.e2e.raw import RawConnection, header

CARD = {"method": "card", "token": "tok"}


@pytest.fixture
def raw(shop):
    conn = RawConnection(shop.port)
    yield conn
    conn.close()


def error_of(reply):
    assert reply["ok"] is False, reply
    return reply["error"]


def still_answers(conn):
    return conn.call("ping")["ok"] is True


# -- bad_request: before and after hello


def test_first_request_must_be_hello_then_close(raw):
    error = error_of(raw.answer(raw.request("ping")))
    assert error["code"] == "bad_request" and "hello" in error["message"]
    assert raw.closed_by_server()


def test_unsupported_version_then_close(raw):
    error = error_of(raw.answer(raw.request("hello", protocol=[2, 3], client="future")))
    assert error == {
        "code": "unsupported_version",
        "message": error["message"],
        "details": {"supported": [1, 1]},
    }
    assert raw.closed_by_server()


def test_a_version_range_picks_the_highest_common(raw):
    assert raw.call("hello", protocol=[0, 5], client="x")["result"]["protocol"] == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"\xc1", None),  # not msgpack
        (packb([1, 2, 3]), None),  # not a map
        (packb({"id": 0, "op": "ping"}), "id"),
        (packb({"op": "ping"}), "id"),
    ],
)
def test_bad_bodies_after_hello_answer_with_id_nil_and_keep_the_connection(raw, body, field):
    raw.hello()
    raw.send_bytes(frame(body))
    error = error_of(raw.answer(None))
    assert error["code"] == "bad_request"
    assert error["details"].get("field") == field
    assert still_answers(raw)


def test_envelope_errors_with_a_usable_id_carry_it(raw):
    raw.hello()
    raw.send({"id": 77, "op": "ping", "args": [1]})
    assert error_of(raw.answer(77))["details"]["field"] == "args"
    raw.send({"id": 78, "op": "nope.nothing", "args": {}})
    assert error_of(raw.answer(78))["details"] == {"field": "op", "rule": "unknown"}
    raw.send({"id": 79, "op": "hello", "args": {"protocol": 1, "client": "x"}})
    assert error_of(raw.answer(79))["code"] == "bad_request"
    assert still_answers(raw)


def test_arguments_are_checked_after_sign_in_and_role(shop, raw):
    raw.hello()
    error = error_of(raw.answer(raw.request("cart.add", product_id="x")))
    assert error["code"] == "unauthenticated"  # sign-in is checked before arguments
    assert raw.call("auth.login", username="customer", password=shop.passwords["customer"])["ok"]
    error = error_of(raw.answer(raw.request("cart.add", product_id="x")))
    assert error["details"] == {"field": "product_id", "rule": "must be an integer"}
    error = error_of(raw.answer(raw.request("order.ship", order_id="x")))
    assert error["code"] == "forbidden"  # role before arguments


# -- too_large


def test_an_oversized_declared_length_is_refused_and_closed_without_reading(raw):
    raw.hello()
    raw.send_bytes(header(1024 * 1024 + 1))
    error = error_of(raw.answer(None))
    assert error["code"] == "too_large"
    assert error["details"] == {"length": 1024 * 1024 + 1, "max_frame": 1024 * 1024}
    assert raw.closed_by_server()


def test_a_body_of_exactly_max_frame_is_read(raw):
    raw.hello()
    padding = "x" * (1024 * 1024 - 40)
    body = packb({"id": 5, "op": "ping", "args": {"pad": padding}})
    body = packb(
        {"id": 5, "op": "ping", "args": {"pad": padding + "x" * (1024 * 1024 - len(body))}}
    )
    assert len(body) == 1024 * 1024
    raw.send_bytes(frame(body))
    assert error_of(raw.answer(5))["details"]["field"] == "pad"  # read, then refused by schema
    assert still_answers(raw)


def test_an_answer_larger_than_the_client_accepts_is_too_large(shop, raw):
    raw.call("hello", protocol=1, client="tiny", max_frame=4096)
    assert raw.call("auth.login", username="customer", password=shop.passwords["customer"])["ok"]
    error = error_of(raw.answer(raw.request("catalog.list", limit=200)))
    assert error["code"] == "too_large" and error["details"]["max_frame"] == 4096
    assert raw.call("catalog.list", limit=2)["ok"]


# -- sign-in and roles


def test_wrong_password_and_unknown_user_look_the_same(shop):
    with shop.client() as c:
        with pytest.raises(Unauthenticated) as wrong:
            c.login("customer", "not-the-password")
        with pytest.raises(Unauthenticated) as unknown:
            c.login("nobody-here", "not-the-password")
        assert wrong.value.message == unknown.value.message
        assert wrong.value.details == unknown.value.details == {}


def test_roles_are_enforced(shop):
    with shop.client("customer") as customer, shop.client("clerk") as clerk:
        with pytest.raises(Forbidden):
            customer.call("order.ship", order_id=1)
        with pytest.raises(Forbidden) as caught:
            clerk.call("cart.add", product_id=1)
        assert caught.value.details == {"role": "clerk", "allowed": ["customer"]}


def test_a_customer_cannot_see_or_cancel_another_customers_order(shop):
    with shop.client("customer") as owner, shop.client() as other:
        other.call("auth.register", username="tetangga", password="tetangga-pw")
        other.login("tetangga", "tetangga-pw")
        product = next(p for p in owner.call("catalog.list")["items"] if p["stock"] > 1)
        owner.call("cart.clear")
        owner.call("cart.add", product_id=product["id"])
        order = owner.checkout(CARD)
        for op in ("order.get", "order.cancel"):
            with pytest.raises(NotFound) as hidden:
                other.call(op, order_id=order["id"])
            assert hidden.value.details == {"kind": "order", "id": order["id"]}
        assert other.call("order.list")["items"] == []
        assert owner.call("order.get", order_id=order["id"])["status"] == "paid"


# -- the domain's own errors


def test_conflict_out_of_stock_declined_and_invalid_state(shop):
    with shop.client("customer") as c:
        with pytest.raises(Conflict) as taken:
            c.call("auth.register", username="customer", password="whatever-pw")
        assert taken.value.details == {"field": "username"}
        c.call("cart.clear")
        product = next(p for p in c.call("catalog.list")["items"] if 0 < p["stock"] < 900)
        with pytest.raises(OutOfStock) as short:
            c.call("cart.set", product_id=product["id"], qty=product["stock"] + 1)
        assert short.value.details["available"] == product["stock"]
        c.call("cart.add", product_id=product["id"])
        with pytest.raises(PaymentDeclined):
            c.checkout({"method": "card", "token": "decline"})
        assert c.call("cart.get")["count"] == 1
        c.call("cart.clear")
        with pytest.raises(InvalidState) as empty:
            c.checkout(CARD)
        assert empty.value.details == {"reason": "empty_cart"}


# -- rate_limited and unavailable at the limits


def test_limits_answer_rate_limited_and_unavailable(servers):
    server = servers.start(
        "--limit", "rate_per_s=1", "--limit", "burst=5", "--limit", "max_connections=2"
    )
    first = server.raw()
    ids = [first.request("ping") for _ in range(10)]
    replies = [first.answer(i) for i in ids]
    limited = [r for r in replies if not r["ok"]]
    assert len(limited) >= 4
    assert {r["error"]["code"] for r in limited} == {"rate_limited"}
    assert limited[0]["error"]["details"]["reason"] == "rate"
    second = server.raw()
    third = RawConnection(server.port)
    refused = error_of(third.answer(None))
    assert refused["code"] == "unavailable"
    assert refused["details"]["reason"] == "max_connections"
    assert third.closed_by_server()
    assert second.call("ping")["ok"]


def test_too_many_requests_in_flight(servers):
    server = servers.start("--limit", "max_in_flight=2", "--payment-delay", "1")
    with server.client("customer") as c:
        product = next(p for p in c.call("catalog.list")["items"] if p["stock"] > 5)
        c.call("cart.add", product_id=product["id"])
    raw = server.raw("customer")
    slow = [raw.request("order.checkout", idempotency_key=f"k{i}", payment=CARD) for i in range(2)]
    over = raw.request("ping")
    error = error_of(raw.answer(over))
    assert error["details"] == {"limit": 2, "reason": "in_flight"}
    assert [raw.answer(i)["id"] for i in slow] == slow
    assert raw.call("ping")["ok"]


def test_failed_sign_ins_from_one_address_are_throttled(servers):
    server = servers.start("--limit", "failed_logins_per_address_per_min=3")
    with server.client() as c:
        for _ in range(3):
            with pytest.raises(Unauthenticated):
                c.login("customer", "guess-guess")
        with pytest.raises(RateLimited) as throttled:
            c.login("customer", server.passwords["customer"])
        assert throttled.value.details["reason"] == "address"
        assert throttled.value.details["retry_after_ms"] > 0


def test_a_database_that_stays_locked_answers_unavailable_then_recovers(fresh_shop):
    path = fresh_shop.db_url.removeprefix("sqlite:///")
    with fresh_shop.client("customer") as c:
        product = next(p for p in c.call("catalog.list")["items"] if p["stock"] > 2)
        blocker = sqlite3.connect(path, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")  # holds the write lock past the busy timeout
        try:
            with pytest.raises(Unavailable) as down:
                c.call("cart.add", product_id=product["id"])
            assert down.value.details == {"retry_after_ms": 1000}
            assert c.call("catalog.get", product_id=product["id"])["id"] == product["id"]
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        assert c.call("cart.add", product_id=product["id"])["count"] == 1


def test_clients_leaving_mid_request_leave_nothing_behind(servers):
    server = servers.start("--metrics-port", "0", "--limit", "connections_per_address_per_s=1000")
    with server.client("clerk") as c:
        token = c.aio.token
    for _ in range(60):
        raw = server.raw()
        raw.request("auth.resume", token=token)
        raw.request("stock.subscribe", all=True)
        raw.close()  # before either answer

    def settled():
        return server.open_connections() == 0 and server.metrics()["warung_stock_subscribers"] == 0

    wait_until(settled, what="no connection or subscriber left")


def test_a_sign_out_pipelined_behind_requests_never_makes_them_fail_inside(shop):
    with shop.client() as c:
        c.call("auth.register", username="pipeliner", password="pipeliner-pw")
    raw = shop.raw()
    assert raw.call("auth.login", username="pipeliner", password="pipeliner-pw")["ok"]
    reads = [raw.request("order.list") for _ in range(30)]
    logout = raw.request("auth.logout")
    after = [raw.request("order.list") for _ in range(5)]
    answers = [raw.answer(i) for i in [*reads, logout, *after]]
    codes = {a["error"]["code"] for a in answers if not a["ok"]}
    assert codes <= {"unauthenticated"}, answers
    assert all(a["ok"] for a in answers[:31])  # served as who they were sent as
    assert not raw.call("order.list")["ok"]  # once the sign-out is done
    raw.close()


def test_pipelined_subscribes_cannot_pass_the_subscription_limit(servers):
    raw = servers.start("--limit", "max_subscriptions=10").raw("customer")
    ids = [raw.request("stock.subscribe", product_ids=[i, i + 100]) for i in range(1, 21)]
    answers = [raw.answer(i) for i in ids]
    taken = [a for a in answers if a["ok"]]
    refused = [a for a in answers if not a["ok"]]
    assert len(taken) == 5
    assert {a["error"]["details"]["reason"] for a in refused} == {"too_many_subscriptions"}
    raw.close()
