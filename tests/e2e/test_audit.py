"""The audit log over the wire: `admin.audit.list` filters and pages; privileged ops, sign-ins,
refusals and till closes leave their entries; a flood leaves a few and a summary; `hello`
says which ops the server offers, and every op of the registry is one of them."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from protocol.client import Client
from protocol.errors import BadRequest
from protocol.ops import REGISTRY
from tests.e2e.harness import ServerProcess, Servers, wait_until
from tests.e2e.raw import RawConnection
from tests.e2e.secret_run import run_with_secrets
from tests.e2e.shopdb import init_demo, opened

CARD = {"method": "card", "token": "tok"}


def audit(admin: Client, **filters: Any) -> list[dict[str, Any]]:
    """Every entry matching `filters`, newest first, read page by page (2 a page)."""
    found, cursor = [], None
    while True:
        args = {**filters, "limit": 2, **({"cursor": cursor} if cursor else {})}
        page = admin.call("admin.audit.list", **args)
        assert len(page["items"]) == 2 or page["next_cursor"] is None
        found += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return found


def user_id(client: Client, server: ServerProcess, name: str) -> int:
    return client.call("auth.login", username=name, password=server.passwords[name])["user"]["id"]


def test_hello_lists_the_ops_this_server_answers(shop: ServerProcess) -> None:
    ops = RawConnection(shop.port).hello()["result"]["ops"]
    assert ops == sorted(ops) and set(ops) <= set(REGISTRY)
    assert {"hello", "auth.login", "clerk.sale", "admin.audit.list"} <= set(ops)


def test_every_op_of_the_registry_has_a_handler(shop: ServerProcess) -> None:
    """Fails, naming them, while any op of the protocol is answered `unavailable`."""
    offered = RawConnection(shop.port).hello()["result"]["ops"]
    missing = sorted(str(op) for op in set(REGISTRY) - set(offered))
    assert not missing, f"ops of the registry without a handler: {missing}"


def test_audit_list_filters_and_pages_newest_first(shop: ServerProcess) -> None:
    with shop.client("clerk") as clerk, shop.client("admin") as admin:
        clerk_id = user_id(clerk, shop, "clerk")
        first, second = [p["id"] for p in clerk.call("catalog.list", limit=2)["items"]]
        for product, delta in ((first, 3), (second, -1), (first, -2), (first, 4)):
            op = "clerk.restock" if delta > 0 else "clerk.adjust"
            amount = {"qty": delta} if delta > 0 else {"delta": delta}
            clerk.call(op, product_id=product, reason="audit test", **amount)

        of_first = audit(admin, target=f"product:{first}", user_id=clerk_id)
        assert [(e["action"], e["details"].get("delta")) for e in of_first[:3]] == [
            ("clerk.restock", 4),
            ("clerk.adjust", -2),
            ("clerk.restock", 3),
        ]
        ids = [e["id"] for e in of_first]
        assert ids == sorted(ids, reverse=True) and len(set(ids)) == len(ids)
        adjusts = audit(admin, action="clerk.adj", user_id=clerk_id)
        assert {e["action"] for e in adjusts} == {"clerk.adjust"}
        assert {(e["target"], e["details"]["delta"]) for e in adjusts} >= {
            (f"product:{second}", -1),
            (f"product:{first}", -2),
        }
        today = datetime.now(UTC).date()
        assert audit(admin, action="clerk.", **{"from": str(today), "to": str(today)})
        yesterday = str(today - timedelta(days=1))
        assert audit(admin, action="clerk.", to=yesterday) == []
        assert audit(admin, action="clerk.re", user_id=clerk_id + 10_000) == []

        page = admin.call("admin.audit.list", limit=1, action="clerk.")
        with pytest.raises(BadRequest) as other:
            admin.call("admin.audit.list", cursor=page["next_cursor"], action="clerk.restock")
        assert other.value.details == {"field": "cursor", "rule": "not issued for this listing"}
        with pytest.raises(BadRequest) as backwards:
            admin.call("admin.audit.list", **{"from": str(today), "to": yesterday})
        assert backwards.value.details == {"field": "to", "rule": "must not be before 'from'"}


def test_sign_ins_failures_and_refusals_are_entries_with_name_and_address(
    fresh_shop: ServerProcess,
) -> None:
    server = fresh_shop
    conn = server.raw()
    assert conn.call("auth.login", username="Customer", password="not it")["error"]
    assert conn.call("auth.login", username="Wr0ng-Field!secret", password="x")["error"]
    assert conn.call("cart.get")["error"]["code"] == "unauthenticated"
    signed_in = conn.call("auth.login", username="customer", password=server.passwords["customer"])
    customer_id = signed_in["result"]["user"]["id"]
    assert conn.call("clerk.restock", product_id=1, qty=1, reason="x")["error"]["code"] == (
        "forbidden"
    )
    with server.client("admin") as admin:
        wait_until(lambda: audit(admin, action="authz.forbidden"), what="the refusal's entry")
        failed = audit(admin, action="auth.login.failed")
        assert [(e["user_id"], e["target"], e["details"]) for e in failed] == [
            (None, None, {"address": "127.0.0.1", "username": "wr0n…", "reason": "password"}),
            (
                None,
                f"user:{customer_id}",  # the account tried, which exists
                {"address": "127.0.0.1", "username": "customer", "reason": "password"},
            ),
        ]
        [ok] = audit(admin, action="auth.login.ok", user_id=customer_id)
        assert (ok["target"], ok["details"]) == (
            f"user:{customer_id}",
            {"address": "127.0.0.1", "username": "customer"},
        )
        [forbidden] = audit(admin, action="authz.forbidden")
        assert (forbidden["user_id"], forbidden["details"]["op"]) == (customer_id, "clerk.restock")
        assert forbidden["details"]["role"] == "customer"
        [anonymous] = audit(admin, action="authz.unauthenticated")
        assert (anonymous["user_id"], anonymous["details"]) == (
            None,
            {"address": "127.0.0.1", "op": "cart.get"},
        )


def test_a_till_close_leaves_its_difference(fresh_shop: ServerProcess) -> None:
    with fresh_shop.client("clerk") as clerk, fresh_shop.client("admin") as admin:
        register = clerk.call("clerk.register.open", station="kasir-1", opening_cash=100_000)
        clerk.call("clerk.register.close", counted_cash=98_500)
        [closed] = audit(admin, action="clerk.register.close")
        assert closed["target"] == f"register:{register['id']}"
        assert closed["details"] == {
            "expected_cash": 100_000,
            "counted_cash": 98_500,
            "difference": -1_500,
        }


def test_staff_order_changes_leave_one_entry_each(fresh_shop: ServerProcess) -> None:
    with (
        fresh_shop.client("customer") as customer,
        fresh_shop.client("clerk") as clerk,
        fresh_shop.client("admin") as admin,
    ):
        product = next(p for p in customer.call("catalog.list")["items"] if p["stock"] >= 2)
        orders = []
        for _ in range(2):
            customer.call("cart.add", product_id=product["id"], qty=1)
            orders.append(customer.checkout(CARD)["id"])
        shipped, cancelled = orders
        clerk.call("order.ship", order_id=shipped, tracking="JNE-1")
        clerk.call("order.deliver", order_id=shipped)
        clerk.call("order.cancel", order_id=cancelled)

        assert [(e["action"], e["details"]) for e in audit(admin, target=f"order:{shipped}")] == [
            ("order.deliver", {"from": "shipped"}),
            ("order.ship", {"from": "paid", "tracking_ref": "JNE-1"}),
        ]
        [cancel] = audit(admin, target=f"order:{cancelled}")
        assert cancel["action"] == "order.cancel" and cancel["details"]["from"] == "paid"


def test_a_flood_of_refusals_is_a_few_entries_and_one_summary(servers: Servers) -> None:
    server = servers.start()
    conn = server.raw()
    for _ in range(300):
        conn.request("cart.get")
    for _ in range(300):
        assert conn.receive(lambda m: "id" in m)["error"]["code"] == "unauthenticated"
    server.stop()  # a stop writes the summary of the window still counting

    with opened(server.db_url) as db:
        found = db.execute_sql(
            "SELECT details FROM audit_log WHERE action = 'authz.unauthenticated' ORDER BY id"
        ).fetchall()
    details = [json.loads(d) for (d,) in found]
    assert len(details) == 6
    assert details[-1]["summary"] is True and details[-1]["suppressed"] == 295


def test_no_password_token_or_totp_secret_in_the_audit_log_or_the_logs(
    servers: Servers, tmp_path
) -> None:
    """A run that signs up, fails passwords, signs in, turns TOTP on (its secret, code and
    recovery codes) and changes the password leaves its events in the audit log and none of
    those secrets in it, nor in the security log or the server's own log."""
    security_log = tmp_path / "security.jsonl"
    server = servers.start("--security-log", str(security_log))
    secrets = run_with_secrets(server)
    with server.client("clerk") as clerk:
        clerk.call("clerk.restock", product_id=1, qty=1, reason="delivery")
    with server.client("admin") as admin:
        wait_until(
            lambda: audit(admin, action="auth.password.changed"), what="the account's entries"
        )
        assert audit(admin, action="auth.totp.enabled")
    server.stop()

    with opened(server.db_url) as db:
        table = "\n".join(
            " ".join(str(v) for v in row)
            for row in db.execute_sql("SELECT * FROM audit_log").fetchall()
        )
    assert "auth.login.failed" in table and "clerk.restock" in table
    for where, text in (
        ("audit_log", table),
        ("security log", security_log.read_text()),
        ("server log", "".join(server.log)),
    ):
        for secret in secrets:
            assert secret not in text, f"a secret in the {where}"


def test_each_privileged_change_leaves_exactly_one_entry(servers: Servers, tmp_path) -> None:
    """Every `privileged.change` the security log records (any op, the admin ops once they
    are offered too) has exactly one audit entry of that op and target, and no privileged
    op has an entry without one."""
    security_log = tmp_path / "security.jsonl"
    server = servers.start("--security-log", str(security_log))
    with (
        server.client("customer") as customer,
        server.client("clerk") as clerk,
        server.client("admin") as admin,
    ):
        product = next(p for p in customer.call("catalog.list")["items"] if p["stock"] >= 5)
        orders = []
        for _ in range(3):
            customer.call("cart.add", product_id=product["id"], qty=1)
            orders.append(customer.checkout(CARD)["id"])
        customer.call("order.cancel", order_id=orders[2])  # a customer's own: not privileged
        clerk.call("order.ship", order_id=orders[0])
        admin.call("order.deliver", order_id=orders[0])
        admin.call("order.cancel", order_id=orders[1])
        clerk.call("clerk.refund", order_id=orders[0], reason="rusak")
        clerk.call("clerk.register.open", station="kasir-1", opening_cash=0)
        clerk.call(
            "clerk.sale",
            lines=[{"product_id": product["id"], "qty": 1}],
            payment={"method": "cash", "tendered": product["price"]},
            idempotency_key="audit-1",
        )
        clerk.call(  # rung up offline, for more than the stock: one entry all the same
            "clerk.sale",
            lines=[{"product_id": product["id"], "qty": 1000}],
            payment={"method": "cash"},
            idempotency_key="audit-2",
            offline_at=datetime.now(UTC),
            receipt="AUDIT-1",
        )
        clerk.call("clerk.register.close", counted_cash=product["price"])
        admin.call("clerk.restock", product_id=product["id"], qty=2, reason="delivery")
        clerk.call("clerk.adjust", product_id=product["id"], delta=-1, reason="broken")
        (short,) = clerk.call("clerk.shortfall.list")["items"]
        admin.call("clerk.shortfall.resolve", shortfall_id=short["id"], reason="miscounted")
    server.stop()

    changes = [
        (e["op"], e["target"])
        for e in map(json.loads, security_log.read_text().splitlines())
        if e["event"] == "privileged.change"
    ]
    with opened(server.db_url) as db:
        entries = db.execute_sql("SELECT action, target FROM audit_log").fetchall()
    audited = [(action, target) for action, target in entries if action in REGISTRY]
    assert len(changes) == 11
    assert sorted(audited) == sorted(changes)


@pytest.mark.pg
def test_on_postgresql_every_server_lists_what_any_server_audited(servers, pg_schema_url):
    init_demo(pg_schema_url)
    first, second = (servers.start(db_url=pg_schema_url) for _ in range(2))
    conn = second.raw()
    assert conn.call("auth.login", username="clerk", password="wrong password")["error"]
    with second.client("clerk") as clerk:
        clerk.call("clerk.restock", product_id=1, qty=2, reason="delivery")
    with first.client("admin") as admin:
        [restock] = audit(admin, action="clerk.restock")
        assert restock["target"] == "product:1" and restock["details"]["delta"] == 2
        wait_until(lambda: audit(admin, action="auth.login.failed"), what="the other's entry")
        [failed] = audit(admin, action="auth.login.failed")
        assert failed["details"]["username"] == "clerk"
