"""The authorization matrix over the wire: every op of `protocol.ops.REGISTRY`, called as
anonymous, customer, clerk and admin against a real server, each outcome checked against
`MAY_CALL`, a table written here from PROTOCOL.md's "Role" lines (never read from the
registry, so a wrong role set there fails this test).

An outcome is `unauthenticated`, `forbidden` or allowed: an allowed call may still fail for
its arguments or the state (`not_found`, `invalid_state`, `unavailable` for an op this
server does not offer yet); the matrix is about who may call. One server, one connection per
caller, every call pipelined: first all but the sign-in ops, then `auth.logout`, then
`auth.login` and `auth.resume` (each of which changes whom the connection serves). `hello`
opens every connection before it signs in: it is answered to every caller as anonymous.
"""

from __future__ import annotations

import secrets
from typing import Any

from protocol.ops import REGISTRY
from tests.e2e.harness import ServerProcess

CALLERS = ("anonymous", "customer", "clerk", "admin")
ANYONE = frozenset(CALLERS)
SIGNED_IN = frozenset({"customer", "clerk", "admin"})
CUSTOMER = frozenset({"customer"})
CLERK = frozenset({"clerk"})
STAFF = frozenset({"clerk", "admin"})
ADMIN = frozenset({"admin"})

MAY_CALL: dict[str, frozenset[str]] = {
    "hello": ANYONE,
    "ping": ANYONE,
    "auth.register": ANYONE,
    "auth.login": ANYONE,
    "auth.resume": ANYONE,
    "auth.logout": SIGNED_IN,
    "auth.totp.enroll": SIGNED_IN,
    "auth.totp.confirm": SIGNED_IN,
    "auth.totp.disable": SIGNED_IN,
    "auth.totp.recovery_codes": SIGNED_IN,
    "auth.password.change": SIGNED_IN,
    "auth.session.list": SIGNED_IN,
    "auth.session.revoke": SIGNED_IN,
    "catalog.categories": SIGNED_IN,
    "catalog.list": SIGNED_IN,
    "catalog.get": SIGNED_IN,
    "cart.get": CUSTOMER,
    "cart.add": CUSTOMER,
    "cart.set": CUSTOMER,
    "cart.remove": CUSTOMER,
    "cart.clear": CUSTOMER,
    "order.checkout": CUSTOMER,
    "order.list": SIGNED_IN,
    "order.get": SIGNED_IN,
    "order.cancel": SIGNED_IN,
    "order.ship": STAFF,
    "order.deliver": STAFF,
    "order.subscribe": STAFF,
    "order.unsubscribe": STAFF,
    "stock.subscribe": SIGNED_IN,
    "stock.unsubscribe": SIGNED_IN,
    "clerk.register.open": CLERK,
    "clerk.register.close": CLERK,
    "clerk.register.get": CLERK,
    "clerk.sale": CLERK,
    "clerk.restock": STAFF,
    "clerk.adjust": STAFF,
    "clerk.refund": STAFF,
    "clerk.shortfall.list": STAFF,
    "clerk.shortfall.resolve": STAFF,
    "admin.product.create": ADMIN,
    "admin.product.update": ADMIN,
    "admin.product.archive": ADMIN,
    "admin.product.restore": ADMIN,
    "admin.user.list": ADMIN,
    "admin.user.create": ADMIN,
    "admin.user.set_role": ADMIN,
    "admin.user.disable": ADMIN,
    "admin.report.sales": ADMIN,
    "admin.audit.list": ADMIN,
}

NOBODY = 2**53  # an id no order, product, category or user has: changes touch nothing
WRONG_PASSWORD = "not-the-password"  # so re-authenticated ops are allowed yet change nothing
SIGN_INS = ("auth.logout", "auth.login", "auth.resume")
REFUSALS = ("unauthenticated", "forbidden")
CARD = {"method": "card", "token": "tok"}


def expected(op: str, caller: str) -> str:
    if caller in MAY_CALL[op]:
        return "allowed"
    return "unauthenticated" if caller == "anonymous" else "forbidden"


def arguments(tag: str) -> dict[str, dict[str, Any]]:
    """Valid arguments for every op but `hello` (which only opens a connection); `tag`
    keeps what an allowed call creates apart from the other callers'."""
    return {
        "ping": {},
        "auth.register": {"username": f"authz-{tag}", "password": "password-authz"},
        "auth.totp.enroll": {"password": WRONG_PASSWORD},
        "auth.totp.confirm": {"password": WRONG_PASSWORD, "code": "000000"},
        "auth.totp.disable": {"password": WRONG_PASSWORD, "code": "000000"},
        "auth.totp.recovery_codes": {"password": WRONG_PASSWORD},
        "auth.password.change": {"password": WRONG_PASSWORD, "new_password": "password-authz"},
        "auth.session.list": {},
        "auth.session.revoke": {"session_id": NOBODY},
        "catalog.categories": {},
        "catalog.list": {"limit": 1},
        "catalog.get": {"product_id": 1},
        "cart.get": {},
        "cart.add": {"product_id": 1},
        "cart.set": {"product_id": 1, "qty": 0},
        "cart.remove": {"product_id": 1},
        "cart.clear": {},
        "order.checkout": {"idempotency_key": f"authz-{tag}", "payment": CARD},
        "order.list": {"limit": 1},
        "order.get": {"order_id": NOBODY},
        "order.cancel": {"order_id": NOBODY},
        "order.ship": {"order_id": NOBODY, "tracking": "T-1"},
        "order.deliver": {"order_id": NOBODY},
        "order.subscribe": {"limit": 1},
        "order.unsubscribe": {},
        "stock.subscribe": {"product_ids": [1]},
        "stock.unsubscribe": {"all": True},
        "clerk.register.open": {"station": f"authz-{tag}", "opening_cash": 0},
        "clerk.register.close": {"counted_cash": 0},
        "clerk.register.get": {},
        "clerk.sale": {
            "lines": [{"product_id": NOBODY, "qty": 1}],
            "payment": {"method": "cash", "tendered": 0},
            "idempotency_key": f"authz-{tag}",
        },
        "clerk.restock": {"product_id": NOBODY, "qty": 1, "reason": "authz"},
        "clerk.adjust": {"product_id": NOBODY, "delta": -1, "reason": "authz"},
        "clerk.refund": {"order_id": NOBODY, "reason": "authz"},
        "clerk.shortfall.list": {"limit": 1},
        "clerk.shortfall.resolve": {"shortfall_id": NOBODY, "reason": "authz"},
        "admin.product.create": {
            "sku": f"AUTHZ-{tag}",
            "name": "authz",
            "category_id": NOBODY,
            "price": 1,
        },
        "admin.product.update": {"product_id": NOBODY, "name": "authz"},
        "admin.product.archive": {"product_id": NOBODY},
        "admin.product.restore": {"product_id": NOBODY},
        "admin.user.list": {"limit": 1},
        "admin.user.create": {
            "username": f"authz-made-{tag}",
            "password": "password-authz",
            "role": "customer",
        },
        "admin.user.set_role": {"user_id": NOBODY, "role": "customer"},
        "admin.user.disable": {"user_id": NOBODY},
        "admin.report.sales": {"from": "2026-01-01", "to": "2026-01-31"},
        "admin.audit.list": {"limit": 1},
    }


class Caller:
    """One connection, signed in as the demo account of `role` (or not), and a token of a
    second session (the customer's for the anonymous caller), which outlives the
    `auth.logout` of the connection's own."""

    def __init__(self, shop: ServerProcess, role: str) -> None:
        self.role = role
        self.account = "customer" if role == "anonymous" else role
        self.password = shop.passwords[self.account]
        self.kept = token_of(shop, self.account, self.password)
        self.conn = shop.raw(None if role == "anonymous" else role)

    def pipelined(self, calls: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        """Send every call at once, then collect the replies."""
        sent = {op: self.conn.request(op, **args) for op, args in calls.items()}
        return {op: self.conn.answer(request_id) for op, request_id in sent.items()}

    def everything(self, tag: str) -> dict[str, dict[str, Any]]:
        """The replies to every op but `hello`: the sign-in ops last, in three rounds."""
        calls = arguments(tag)
        replies = self.pipelined({op: a for op, a in calls.items() if op not in SIGN_INS})
        replies |= self.pipelined({"auth.logout": {}})
        replies |= self.pipelined(
            {
                "auth.login": {"username": self.account, "password": self.password},
                "auth.resume": {"token": self.kept},
            }
        )
        return replies


def token_of(shop: ServerProcess, user: str, password: str) -> str:
    """A new session's token, signed in on a connection of its own."""
    conn = shop.raw()
    answer = conn.call("auth.login", username=user, password=password)
    conn.close()
    assert answer["ok"], answer
    return str(answer["result"]["token"])


def outcome(reply: dict[str, Any], op: str, caller: str) -> str:
    """`allowed`, `unauthenticated` or `forbidden` (with other roles in its `details` than
    the table's, it says so, and so does not match)."""
    if reply["ok"]:
        return "allowed"
    code, details = reply["error"]["code"], reply["error"]["details"]
    assert code != "internal", (op, caller, reply)
    if code == "forbidden" and details != {
        "role": caller,
        "allowed": sorted(MAY_CALL[op] & SIGNED_IN),
    }:
        return f"forbidden with {details}"
    return code if code in REFUSALS else "allowed"


def test_the_table_names_every_op_and_its_arguments_are_valid() -> None:
    assert set(MAY_CALL) == set(REGISTRY), "a new op needs its row in MAY_CALL"
    for op, args in arguments("check").items():
        REGISTRY[op].args.check(args)


def test_every_op_answers_each_role_as_the_table_says(servers: Any) -> None:
    shop = servers.start()
    found = {("hello", role): "allowed" for role in CALLERS}  # how every connection opens
    for role in CALLERS:
        caller = Caller(shop, role)
        replies = caller.everything(f"{role}-{secrets.token_hex(3)}")
        caller.conn.close()
        found |= {(op, role): outcome(reply, op, role) for op, reply in replies.items()}

    wanted = {(op, role): expected(op, role) for op in MAY_CALL for role in CALLERS}
    wrong = [
        f"{op} as {role}: {found.get((op, role))}, not {want}"
        for (op, role), want in sorted(wanted.items())
        if found.get((op, role)) != want
    ]
    assert not wrong, "\n".join(wrong)
