"""What a connection records in the security log: the refusals it sends (keyed on the
error's code) and the privileged changes its dispatcher completes. StringTransport for the
socket, task.Clock for time, a list for the log's lines."""

import json
from typing import Any

import pytest
from twisted.internet.address import IPv4Address
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport

from protocol.errors import Conflict, Unauthenticated
from protocol.framing import encode
from protocol.ops import REGISTRY, Op
from server.dispatch import Call, Dispatcher, Identity
from server.events import EventHub, next_turn
from server.factory import WarungFactory
from server.limits import Limits
from server.metrics import Metrics
from server.security_events import privileged
from server.security_log import SecurityLog
from server.services.session import SessionService
from tests.server.frames import bodies

SHOP = {"name": "test", "currency": "IDR", "currency_exponent": 2}
ADDRESS = "10.1.2.3"
CUSTOMER = Identity(41, "ani", "customer", 1)
CLERK = Identity(7, "kasir", "clerk", 2)


class Shop:
    """One connection from ADDRESS, and every security log entry it caused."""

    def __init__(self, limits: Limits | None = None, /, **handlers: Any) -> None:
        limits = limits or Limits()
        self.clock = Clock()
        self.entries: list[dict[str, Any]] = []
        security = SecurityLog(self.clock, lambda line: self.entries.append(json.loads(line)))
        session = SessionService(limits, SHOP)
        table = {Op.HELLO: session.hello, Op.PING: session.ping, **handlers}
        dispatcher = Dispatcher(table, security)
        factory = WarungFactory(
            dispatcher,
            EventHub(next_turn(self.clock)),
            limits,
            self.clock,
            Metrics(),
            security=security,
        )
        self.conn = factory.buildProtocol(IPv4Address("TCP", ADDRESS, 40000))
        self.transport = StringTransport()
        self.conn.makeConnection(self.transport)
        self.next_id = 1
        self.call(Op.HELLO, protocol=1, client="t")

    def send(self, op: str, **args: Any) -> None:
        self.next_id += 1
        self.conn.dataReceived(encode({"id": self.next_id, "op": op, "args": args}))

    def call(self, op: str, **args: Any) -> dict[str, Any]:
        self.send(op, **args)
        return self.answers()[-1]

    def answers(self) -> list[dict[str, Any]]:
        found = bodies(self.transport.value())
        self.transport.clear()
        return found


def restocked(call: Call) -> dict[str, Any]:
    return {"product": {"id": call.args["product_id"], "stock": 9}}


def test_a_forbidden_answer_is_recorded_with_op_role_user_and_address():
    shop = Shop(**{Op.CLERK_RESTOCK: restocked})
    shop.conn.identity = CUSTOMER
    answer = shop.call(Op.CLERK_RESTOCK, product_id=3, qty=1, reason="x")
    assert answer["error"]["code"] == "forbidden"
    [entry] = shop.entries
    assert entry["event"] == "authz.forbidden"
    assert {k: entry[k] for k in ("address", "user_id", "username", "op", "role")} == {
        "address": ADDRESS,
        "user_id": 41,
        "username": "ani",
        "op": "clerk.restock",
        "role": "customer",
    }


def test_an_op_that_needs_a_sign_in_refused_as_unauthenticated_is_recorded():
    shop = Shop()
    assert shop.call(Op.CART_GET)["error"]["code"] == "unauthenticated"
    [entry] = shop.entries
    assert (entry["event"], entry["op"], entry["user_id"]) == (
        "authz.unauthenticated",
        "cart.get",
        None,
    )


def test_a_refused_session_token_is_recorded_but_a_failed_login_is_left_to_auth():
    def refuse(call: Call) -> dict[str, Any]:
        raise Unauthenticated("no")

    shop = Shop(**{Op.AUTH_RESUME: refuse, Op.AUTH_LOGIN: refuse})
    shop.call(Op.AUTH_RESUME, token="t" * 40)
    shop.call(Op.AUTH_LOGIN, username="ani", password="wrong password")
    assert [(e["event"], e["op"]) for e in shop.entries] == [
        ("authz.unauthenticated", "auth.resume")
    ]
    assert "t" * 40 not in json.dumps(shop.entries)


def test_a_request_flood_over_the_rate_writes_a_few_lines_and_counts_the_rest():
    shop = Shop(Limits(rate_per_s=1, burst=2))
    for _ in range(1000):
        shop.send(Op.PING)
    refused = [a for a in shop.answers() if not a["ok"]]
    assert len(refused) >= 990 and {a["error"]["code"] for a in refused} == {"rate_limited"}
    assert len(shop.entries) <= 5
    shop.clock.advance(60)
    summary = shop.entries[-1]
    assert summary["summary"] and summary["event"] == "request.throttled"
    assert (summary["op"], summary["reason"]) == ("ping", "rate")
    total = sum(e.get("suppressed", 1) for e in shop.entries)
    assert total == len(refused)


def test_requests_over_the_in_flight_limit_are_recorded_as_throttled():
    never: Deferred[dict[str, Any]] = Deferred()
    shop = Shop(Limits(max_in_flight=1), **{Op.CATALOG_CATEGORIES: lambda call: never})
    shop.conn.identity = CUSTOMER
    shop.send(Op.CATALOG_CATEGORIES)
    shop.send(Op.CATALOG_CATEGORIES)
    [entry] = shop.entries
    assert (entry["event"], entry["reason"], entry["user_id"]) == (
        "request.throttled",
        "in_flight",
        41,
    )


def test_an_unknown_op_throttled_is_recorded_without_the_clients_string():
    shop = Shop(Limits(rate_per_s=1, burst=1))
    shop.send("x" * 60)
    shop.send("x" * 60)
    [entry] = shop.entries
    assert entry["op"] is None and "x" * 60 not in json.dumps(entry)


def test_other_errors_are_not_security_events():
    shop = Shop(**{Op.CLERK_RESTOCK: restocked})
    shop.conn.identity = CLERK
    assert shop.call(Op.CLERK_RESTOCK, product_id=3)["error"]["code"] == "bad_request"
    assert shop.call("no.such.op")["error"]["code"] == "bad_request"
    assert shop.entries == []


def test_a_privileged_change_is_recorded_once_with_its_target_and_no_arguments():
    shop = Shop(**{Op.CLERK_RESTOCK: restocked})
    shop.conn.identity = CLERK
    assert shop.call(Op.CLERK_RESTOCK, product_id=3, qty=5, reason="delivery 4471")["ok"]
    [entry] = shop.entries
    assert entry == {
        "ts": entry["ts"],
        "event": "privileged.change",
        "address": ADDRESS,
        "user_id": 7,
        "username": "kasir",
        "op": "clerk.restock",
        "role": "clerk",
        "target": "product:3",
    }


def test_a_change_answered_later_is_recorded_when_it_succeeds_and_not_when_it_fails():
    pending: list[Deferred[dict[str, Any]]] = []

    def sale(call: Call) -> Deferred[dict[str, Any]]:
        pending.append(Deferred())
        return pending[-1]

    shop = Shop(**{Op.CLERK_SALE: sale})
    shop.conn.identity = CLERK
    lines = [{"product_id": 1, "qty": 1}]
    for key in ("k1", "k2"):
        shop.send(Op.CLERK_SALE, lines=lines, payment={"method": "cash"}, idempotency_key=key)
    shop.conn.identity = None  # signed out meanwhile: the change is still the clerk's
    assert shop.entries == []
    pending[0].callback({"order": {"id": 88}, "changes": [], "existing": False})
    pending[1].errback(Conflict("declined"))
    [entry] = shop.entries
    assert (entry["op"], entry["target"], entry["user_id"]) == ("clerk.sale", "order:88", 7)


def test_reads_and_customer_ops_are_not_privileged_changes():
    shop = Shop(**{Op.CLERK_REGISTER_GET: lambda call: {"id": 1}})
    shop.conn.identity = CLERK
    assert shop.call(Op.CLERK_REGISTER_GET)["ok"]
    assert shop.entries == []


# Written from PROTOCOL.md's op descriptions, not read from the code: the staff ops that
# change stock, money, orders, products or accounts.
CHANGES = {
    "order.cancel",
    "order.ship",
    "order.deliver",
    "clerk.register.open",
    "clerk.register.close",
    "clerk.sale",
    "clerk.restock",
    "clerk.adjust",
    "clerk.refund",
    "clerk.shortfall.resolve",
    "admin.product.create",
    "admin.product.update",
    "admin.product.archive",
    "admin.product.restore",
    "admin.user.create",
    "admin.user.set_role",
    "admin.user.disable",
}


@pytest.mark.parametrize("op", sorted(REGISTRY))
def test_exactly_the_staff_changes_are_privileged(op: str):
    """A new op closed to customers counts as a change until it is listed in STAFF_READS
    (server/security_events.py): add it to CHANGES here, or to STAFF_READS there."""
    for role in ("clerk", "admin"):
        assert privileged(op, role) is (op in CHANGES)
    assert not privileged(op, "customer")


def test_staff_cancelling_an_order_is_a_privileged_change_a_customer_doing_it_is_not():
    shop = Shop(**{Op.ORDER_CANCEL: lambda call: {"order": {"id": call.args["order_id"]}}})
    shop.conn.identity = CUSTOMER
    assert shop.call(Op.ORDER_CANCEL, order_id=5)["ok"]
    assert shop.entries == []
    shop.conn.identity = CLERK
    assert shop.call(Op.ORDER_CANCEL, order_id=5)["ok"]
    assert [(e["op"], e["target"]) for e in shop.entries] == [("order.cancel", "order:5")]
