"""Offline sales over the wire, on SQLite and PostgreSQL (PROTOCOL.md section 12.7): a till
that rang up cash sales offline sends them later with `offline_at` and a receipt. They are
never refused for stock (a shortfall records what the stock lacked), count once however
often they are sent (also to another server), count on the day they were rung up, in the
register session open then, and a person resolves the shortfall with a reason."""

from __future__ import annotations

import asyncio
import secrets
import struct
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from protocol.client.blocking import Client
from protocol.codec import packb
from protocol.errors import BadRequest, Conflict, InvalidState, NotFound, OutOfStock
from protocol.framing import encode
from tests.e2e.harness import ServerProcess, Servers, wait_until
from tests.e2e.shopdb import add_product, facts, init_demo, opened

PRICE = 1_500_000


def offline_sale(
    clerk: Client, product_id: int, qty: int, at: datetime, receipt: str, key: str = ""
) -> dict:
    return clerk.call(
        "clerk.sale",
        lines=[{"product_id": product_id, "qty": qty}],
        payment={"method": "cash"},
        idempotency_key=key or secrets.token_hex(8),
        offline_at=at,
        receipt=receipt,
    )


def mark(url: str) -> str:
    return "%s" if url.startswith("postgres") else "?"


def open_since(clerk: Client, url: str, since: datetime, opening_cash: int) -> dict:
    """Open a register as if it had been opened at `since` (the till went offline after)."""
    register = clerk.call("clerk.register.open", station="kasir-1", opening_cash=opening_cash)
    with opened(url) as db:
        db.execute_sql(
            f"UPDATE registers SET opened_at = {mark(url)} WHERE id = {mark(url)}",
            (since.replace(tzinfo=None), register["id"]),
        )
    return register


def report_day(admin: Client, day: str) -> dict:
    report = admin.call("admin.report.sales", **{"from": day, "to": day})
    return {k: report[k] for k in ("orders", "units", "total")}


def audit_of(admin: Client, action: str, target: str) -> list[dict]:
    return admin.call("admin.audit.list", action=action, target=target)["items"]


@pytest.fixture
def shop(servers: Servers, db_url: str) -> tuple[ServerProcess, str, int]:
    """A demo shop on SQLite or PostgreSQL with a product holding 2 units: its server, its
    database and the product."""
    init_demo(db_url)
    product_id = add_product(db_url, "OFF-1", 2, PRICE)
    return servers.start(db_url=db_url), db_url, product_id


def test_an_offline_sale_for_more_than_the_stock_is_recorded_once_with_a_shortfall(shop):
    server, url, product_id = shop
    rung_up = datetime.now(UTC).replace(microsecond=123456) - timedelta(days=2)
    day = rung_up.date().isoformat()
    with (
        server.client("clerk") as clerk,
        server.client("admin") as admin,
        server.client("customer") as customer,
    ):
        customer.subscribe_stock([product_id])
        register = open_since(clerk, url, rung_up - timedelta(hours=1), 100_000)
        before = report_day(admin, day)

        sold = offline_sale(clerk, product_id, 5, rung_up, "K1-000042", key="till-1-42")
        again = offline_sale(clerk, product_id, 5, rung_up, "K1-000042", key="till-1-42")

        assert (sold["status"], sold["channel"], sold["total"]) == ("completed", "pos", 5 * PRICE)
        assert (sold["receipt"], sold["offline_at"]) == ("K1-000042", rung_up)
        assert sold["lines"][0]["qty"] == 5, "the line sells every unit the till sold"
        assert again == sold, "a repeat is the same sale, with the same receipt"
        assert clerk.call("order.get", order_id=sold["id"])["receipt"] == "K1-000042"
        assert clerk.call("catalog.get", product_id=product_id)["stock"] == 0
        push = wait_until(lambda: customer.next_event(timeout=5), what="the stock push")
        assert (push.event, push.data["stock"]) == ("stock", 0)
        listed = clerk.call("clerk.shortfall.list")
        assert listed["open"] == 1 and len(listed["items"]) == 1
        (short,) = listed["items"]
        assert (short["product_id"], short["qty"], short["stock"]) == (product_id, 3, 0)
        assert (short["order_id"], short["receipt"], short["status"]) == (
            sold["id"],
            "K1-000042",
            "open",
        )
        assert short["offline_at"] == rung_up and short["reason"] is None
        assert clerk.call("clerk.register.get")["expected_cash"] == 100_000 + 5 * PRICE
        after = report_day(admin, day)
        assert after == {
            "orders": before["orders"] + 1,
            "units": before["units"] + 5,
            "total": before["total"] + 5 * PRICE,
        }, "counted once, on the day it was rung up"
        (entry,) = audit_of(admin, "clerk.sale", f"order:{sold['id']}")
        assert entry["details"]["shortfalls"] == [
            {"id": short["id"], "product_id": product_id, "qty": 3}
        ]
        assert entry["details"]["receipt"] == "K1-000042"
        assert (entry["details"]["register_id"], entry["details"]["after_close"]) == (
            register["id"],
            False,
        )

    found = facts(url, product_id)
    assert found["stock"] == 0 and found["orders"] == {"completed": 1}
    assert found["problems"] == []
    with opened(url) as db:
        kinds = db.execute_sql(
            f"SELECT kind, delta FROM stock_movements WHERE order_id = {mark(url)} ORDER BY id",
            (sold["id"],),
        ).fetchall()
    assert kinds == [("shortfall", 3), ("sale", -5)]


def test_a_shortfall_is_resolved_once_with_a_reason_and_a_stock_correction(shop):
    server, url, product_id = shop
    with server.client("clerk") as clerk, server.client("admin") as admin:
        clerk.call("clerk.register.open", station="kasir-1", opening_cash=0)
        offline_sale(clerk, product_id, 3, datetime.now(UTC), "K1-7")
        (short,) = clerk.call("clerk.shortfall.list", product_id=product_id)["items"]
        args = {"shortfall_id": short["id"], "delta": 4, "reason": "delivery not booked"}

        resolved = admin.call("clerk.shortfall.resolve", **args, idempotency_key="count-1")
        replayed = admin.call("clerk.shortfall.resolve", **args, idempotency_key="count-1")
        with pytest.raises(InvalidState) as twice:
            clerk.call("clerk.shortfall.resolve", **args)
        with pytest.raises(Conflict) as reused:
            admin.call("clerk.shortfall.resolve", **{**args, "delta": 5}, idempotency_key="count-1")

        assert (resolved["status"], resolved["delta"], resolved["stock"]) == ("resolved", 4, 4)
        assert resolved["reason"] == "delivery not booked" and resolved["resolved_at"]
        assert replayed == resolved
        assert twice.value.details == {"reason": "already_resolved"}
        assert reused.value.details == {"field": "idempotency_key"}
        assert clerk.call("catalog.get", product_id=product_id)["stock"] == 4, "adjusted once"
        assert clerk.call("clerk.shortfall.list") == {"items": [], "open": 0}
        (entry,) = audit_of(admin, "clerk.shortfall.resolve", f"shortfall:{short['id']}")
        assert entry["details"] == {
            "product_id": product_id,
            "qty": 1,
            "delta": 4,
            "reason": "delivery not booked",
            "stock": 4,
        }
        offline_sale(clerk, product_id, 9, datetime.now(UTC), "K1-8")
        (later,) = clerk.call("clerk.shortfall.list")["items"]
        with pytest.raises(OutOfStock) as below_zero:
            clerk.call("clerk.shortfall.resolve", shortfall_id=later["id"], delta=-1, reason="x")
        with pytest.raises(NotFound) as unknown:
            clerk.call("clerk.shortfall.resolve", shortfall_id=10**6, reason="x")
        assert below_zero.value.details == {
            "product_id": product_id,
            "requested": 1,
            "available": 0,
        }
        assert unknown.value.details == {"kind": "shortfall", "id": 10**6}
        assert clerk.call("clerk.shortfall.list")["open"] == 1, "still open"
    assert facts(url, product_id)["problems"] == []


def test_an_offline_sale_belongs_to_the_register_session_open_when_it_was_rung_up(shop):
    server, _, product_id = shop
    with server.client("clerk") as clerk, server.client("admin") as admin:
        clerk.call("clerk.register.open", station="kasir-1", opening_cash=10_000)
        rung_up = datetime.now(UTC)
        online = clerk.call(
            "clerk.sale",
            lines=[{"product_id": product_id, "qty": 1}],
            payment={"method": "cash"},
            idempotency_key="online-1",
        )
        closed = clerk.call("clerk.register.close", counted_cash=10_000 + online["total"] + PRICE)
        late = offline_sale(clerk, product_id, 1, rung_up, "K1-9")  # queued at the close
        reopened = clerk.call("clerk.register.open", station="kasir-1", opening_cash=0)
        now_sold = offline_sale(clerk, product_id, 1, datetime.now(UTC), "K1-10", key="k10")
        repeat = offline_sale(clerk, product_id, 1, now_sold["offline_at"], "K1-10", key="k10")
        register = clerk.call("clerk.register.get")

        assert closed["expected_cash"] == 10_000 + online["total"]
        assert closed["difference"] == PRICE, "the drawer held the queued sale's cash"
        (entry,) = audit_of(admin, "clerk.sale", f"order:{late['id']}")
        assert entry["details"]["register_id"] == closed["id"]
        assert entry["details"]["after_close"] is True
        assert register["id"] == reopened["id"] and repeat == now_sold
        assert register["expected_cash"] == now_sold["total"], "only the new session's sale"
        assert register["by_method"]["cash"]["count"] == 1


def test_offline_sales_break_no_rule_quietly(shop):
    server, _, product_id = shop
    now = datetime.now(UTC)
    line = [{"product_id": product_id, "qty": 1}]
    base = {"lines": line, "payment": {"method": "cash"}, "offline_at": now, "receipt": "K2-1"}
    refused: list[tuple[dict[str, object], str, str | None]] = [
        (
            {"payment": {"method": "card", "token": "t"}},
            "payment.method",
            "must be cash for an offline sale",
        ),
        ({"receipt": None}, "receipt", "required"),
        (
            {"offline_at": now + timedelta(minutes=6)},
            "offline_at",
            "must not be more than 300 s after the server's clock",
        ),
        (
            {"offline_at": now - timedelta(days=31)},
            "offline_at",
            "must not be more than 30 days before the server's clock",
        ),
        ({"offline_at": now.isoformat()}, "offline_at", "must be a timestamp"),
        ({"receipt": "k2-1"}, "receipt", None),
        ({"receipt": "K2-"}, "receipt", None),
        ({"receipt": "K2-" + "1" * 13}, "receipt", None),
        (
            {"offline_at": None, "lines": [{**line[0], "unit_price": 1}]},
            "lines[0].unit_price",
            "only for an offline sale",
        ),
    ]
    with server.client("clerk") as clerk:
        clerk.call("clerk.register.open", station="kasir-2", opening_cash=0)
        for change, field, rule in refused:
            with pytest.raises(BadRequest) as bad:
                clerk.call("clerk.sale", **{**base, **change}, idempotency_key="k")
            assert bad.value.details["field"] == field, change
            if rule is not None:
                assert bad.value.details["rule"] == rule, change
        first = clerk.call("clerk.sale", **base, idempotency_key="k")
        online = {**base, "offline_at": None, "receipt": "K2-1"}
        with pytest.raises(Conflict) as receipt_taken:
            clerk.call("clerk.sale", **online, idempotency_key="k-online")
        with pytest.raises(Conflict) as key_reused:
            clerk.call("clerk.sale", **{**base, "receipt": "K2-2"}, idempotency_key="k")
        assert receipt_taken.value.details == {"field": "receipt"}
        assert key_reused.value.details == {"field": "idempotency_key"}
        priced = clerk.call(
            "clerk.sale",
            **{**base, "receipt": "K2-3", "lines": [{**line[0], "unit_price": 1_000}]},
            idempotency_key="k3",
        )
        assert (priced["total"], priced["lines"][0]["unit_price"]) == (1_000, 1_000)
        assert clerk.call("ping")
        assert first["receipt"] == "K2-1"
        assert clerk.call("catalog.get", product_id=product_id)["stock"] == 0


@pytest.mark.pg
def test_an_offline_sale_sent_again_to_another_server_is_the_same_sale(servers, pg_schema_url):
    init_demo(pg_schema_url)
    product_id = add_product(pg_schema_url, "OFF-PG", 1, PRICE)
    first, second = (servers.start(db_url=pg_schema_url) for _ in range(2))
    rung_up = datetime.now(UTC) - timedelta(hours=1)
    with first.client("clerk") as here, second.client("clerk") as there:
        open_since(here, pg_schema_url, rung_up - timedelta(hours=1), 0)
        sold = offline_sale(here, product_id, 4, rung_up, "K3-1", key="till-3-1")
        again = offline_sale(there, product_id, 4, rung_up, "K3-1", key="till-3-1")

        assert again == sold
        assert there.call("clerk.shortfall.list")["open"] == 1
        assert there.call("clerk.register.get")["expected_cash"] == 4 * PRICE
    found = facts(pg_schema_url, product_id)
    assert (found["stock"], found["orders"], found["problems"]) == (0, {"completed": 1}, [])


@pytest.mark.pg
def test_offline_and_online_sales_racing_on_two_servers_never_take_stock_below_zero(
    servers, pg_schema_url
):
    """Each server's clerk sends offline sales while the other sells online, all at once, on
    the last units: every offline sale is recorded, the online ones get what is left or
    `out_of_stock`, stock ends at 0 and the shortfalls make up exactly the rest."""
    init_demo(pg_schema_url)
    product_id = add_product(pg_schema_url, "OFF-RACE", 6, PRICE)
    here, there = (servers.start(db_url=pg_schema_url) for _ in range(2))

    async def run() -> tuple[list, list]:
        clerks = [await s.async_client("clerk") for s in (here, there)]
        await clerks[0].call("clerk.register.open", station="kasir-1", opening_cash=0)
        line = [{"product_id": product_id, "qty": 1}]

        def offline(n: int, clerk) -> Any:
            return clerk.call(
                "clerk.sale",
                lines=line,
                payment={"method": "cash"},
                idempotency_key=f"race-off-{n}",
                offline_at=datetime.now(UTC),
                receipt=f"R{n % 2}-{n}",
            )

        def online(n: int, clerk) -> Any:
            return clerk.call(
                "clerk.sale", lines=line, payment={"method": "cash"}, idempotency_key=f"on-{n}"
            )

        calls = [offline(n, clerks[n % 2]) for n in range(8)]
        calls += [online(n, clerks[n % 2]) for n in range(4)]
        outcomes = await asyncio.gather(*calls, return_exceptions=True)
        for clerk in clerks:
            await clerk.close()
        return outcomes[:8], outcomes[8:]

    offline_outcomes, online_outcomes = asyncio.run(run())
    assert all(isinstance(o, dict) for o in offline_outcomes), offline_outcomes
    sold_online = [o for o in online_outcomes if isinstance(o, dict)]
    assert all(isinstance(o, OutOfStock) for o in online_outcomes if not isinstance(o, dict))
    found = facts(pg_schema_url, product_id)
    assert (found["stock"], found["problems"]) == (0, [])
    with opened(pg_schema_url) as db:
        (short,) = db.execute_sql(
            "SELECT COALESCE(SUM(qty), 0) FROM shortfalls WHERE product_id = %s", (product_id,)
        ).fetchone()
    assert short == 8 + len(sold_online) - 6, "the shortfalls are exactly the units missing"


def test_a_timestamp_past_the_year_9999_is_a_bad_body_and_the_connection_goes_on(shop):
    server, _, _ = shop
    conn = server.raw("clerk")
    marker = datetime(2000, 1, 1, tzinfo=UTC)
    frame = encode({"id": 7, "op": "clerk.sale", "args": {"offline_at": marker}})
    beyond = b"\xc7\x0c\xff" + struct.pack(">Iq", 0, 2**40)  # some 35,000 years from now
    body = frame[4:].replace(packb(marker), beyond)
    conn.send_bytes(len(body).to_bytes(4, "big") + body)

    refused = conn.answer(None)
    assert (refused["error"]["code"], refused["error"]["details"]) == (
        "bad_request",
        {"reason": "msgpack"},
    )
    assert conn.call("ping")["ok"]
    conn.close()


def test_an_offline_sale_whose_receipt_another_sale_holds_is_recorded_and_flagged(shop):
    """A till whose numbering went wrong (its queue file wiped, two tills with one prefix)
    must not lose the sale: the goods have left. It is recorded without the clashing number,
    which its audit entry keeps for a person; a repeat of its key is the same sale."""
    server, _, product_id = shop
    now = datetime.now(UTC)
    with server.client("clerk") as clerk, server.client("admin") as admin:
        clerk.call("clerk.register.open", station="kasir-3", opening_cash=0)
        first = offline_sale(clerk, product_id, 1, now, "K3-000001", key="first")
        clash = offline_sale(clerk, product_id, 1, now, "K3-000001", key="second")
        again = offline_sale(clerk, product_id, 1, now, "K3-000001", key="second")
        assert first["receipt"] == "K3-000001"
        assert (clash["receipt"], clash["status"]) == (None, "completed")
        assert again["id"] == clash["id"]
        [entry] = audit_of(admin, "clerk.sale", f"order:{clash['id']}")
        assert entry["details"]["receipt_clash"] == "K3-000001"
