"""`clerk.refund` over the wire: a partial refund pushes the stock back and the order, the
last unit the order's new status; customers may not refund; two clerks on two servers sharing
PostgreSQL, refunding the same orders at the same moment, never give back more than was
paid for."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

from db.money import check_money
from protocol.client import Client
from protocol.errors import Forbidden, InvalidState, WarungError
from tests.e2e.harness import ServerProcess
from tests.e2e.shopdb import add_product, facts, init_demo, opened

CARD = {"method": "card", "token": "tok"}


def buy(client: Client, lines: dict[int, int]) -> dict[str, Any]:
    client.call("cart.clear")
    for product_id, qty in lines.items():
        client.call("cart.add", product_id=product_id, qty=qty)
    return client.checkout(CARD)


def next_push(client: Client, want: Callable[[Any], bool], timeout: float = 10.0) -> Any:
    """The data of the first push that `want` accepts (others are passed over)."""
    while True:
        push = client.next_event(timeout)
        if want(push):
            return push.data


def pushes_until(
    client: Client, wanted: dict[str, Callable[[Any], bool]], timeout: float = 10.0
) -> dict[str, Any]:
    """The data of the first push each of `wanted` accepts, in whatever order they come
    (others passed over)."""
    seen: dict[str, Any] = {}
    while len(seen) < len(wanted):
        push = client.next_event(timeout)
        for name, want in wanted.items():
            if name not in seen and want(push):
                seen[name] = push.data
    return seen


def test_a_partial_refund_over_the_wire_pushes_the_stock_back(shop: ServerProcess) -> None:
    with shop.client("customer") as customer, shop.client("clerk") as clerk:
        product = next(p for p in customer.call("catalog.list")["items"] if p["stock"] >= 5)
        before = product["stock"]
        customer.subscribe_stock([product["id"]])
        order = buy(customer, {product["id"]: 3})

        def stock_of(push: Any) -> bool:
            return push.event == "stock" and push.data["product_id"] == product["id"]

        assert next_push(customer, stock_of)["stock"] == before - 3

        part = clerk.call(
            "clerk.refund",
            order_id=order["id"],
            lines=[{"product_id": product["id"], "qty": 2}],
            reason="two arrived broken",
        )

        assert part["status"] == "paid" and part["lines"][0]["refunded_qty"] == 2
        assert part["refund"]["amount"] == 2 * product["price"]

        def refund_of_the_part(push: Any) -> bool:
            return push.event == "order" and push.data["lines"][0]["refunded_qty"] > 0

        pushed = pushes_until(customer, {"stock": stock_of, "order": refund_of_the_part})
        assert pushed["stock"]["stock"] == before - 1, "the units are back"
        told = pushed["order"]
        assert (told["id"], told["status"], told["lines"][0]["refunded_qty"]) == (
            order["id"],
            "paid",
            2,
        ), "the owner sees a part refunded, the status as it was"
        rest = clerk.call("clerk.refund", order_id=order["id"], reason="the third too")
        assert rest["status"] == "refunded" and rest["payment"]["status"] == "refunded"
        told = next_push(customer, lambda push: push.event == "order")
        assert told["id"] == order["id"] and told["status"] == "refunded"
        assert customer.call("order.get", order_id=order["id"]) == told
    assert facts(shop.db_url, product["id"])["problems"] == []


def test_a_customer_may_not_refund_even_their_own_order(shop: ServerProcess) -> None:
    with shop.client("customer") as customer:
        product = next(p for p in customer.call("catalog.list")["items"] if p["stock"] >= 2)
        order = buy(customer, {product["id"]: 1})
        with pytest.raises(Forbidden) as refused:
            customer.call("clerk.refund", order_id=order["id"], reason="I changed my mind")
        assert refused.value.details == {"role": "customer", "allowed": ["admin", "clerk"]}
        assert customer.call("order.get", order_id=order["id"])["lines"][0]["refunded_qty"] == 0


# -- two clerks, two servers, one PostgreSQL

ROUNDS = 40
P_QTY, Q_QTY = 3, 2  # each round's order: 3 units of P, 2 of Q


Call = tuple[Client, str, dict[str, Any]]  # who asks, the op, its arguments


def race(calls: list[Call]) -> list[dict[str, Any] | WarungError]:
    """Make the calls on threads of their own, released together; their outcomes in order."""
    outcomes: list[Any] = [None] * len(calls)
    start = threading.Barrier(len(calls))

    def run(i: int) -> None:
        client, op, args = calls[i]
        start.wait(timeout=30)
        try:
            outcomes[i] = client.call(op, args)
        except WarungError as refused:
            outcomes[i] = refused

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a call did not come back"
    assert all(o is not None for o in outcomes), outcomes
    return outcomes


def refunded_or_refused(outcome: dict[str, Any] | WarungError) -> None:
    """An outcome is a refund or a refusal for units another took first, nothing else."""
    if isinstance(outcome, WarungError):
        assert isinstance(outcome, InvalidState), outcome
        assert outcome.details.get("reason") == "over_refund" or outcome.details["allowed"] == []
    else:
        assert outcome["refund"]["amount"] > 0


@pytest.mark.pg
def test_two_clerks_on_two_servers_never_refund_more_than_was_paid(
    servers: Any, pg_schema_url: str
) -> None:
    init_demo(pg_schema_url)
    p = add_product(pg_schema_url, "REFUND-P", 1000, price=10_000)
    q = add_product(pg_schema_url, "REFUND-Q", 1000, price=3_000)
    here, there = (servers.start(db_url=pg_schema_url) for _ in range(2))
    all_p = {"product_id": p}
    asks: list[tuple[dict[str, Any], dict[str, Any]]] = [
        ({"lines": [{**all_p, "qty": 2}]}, {"lines": [{**all_p, "qty": 2}]}),  # one of them
        ({}, {}),  # one takes the whole order, the other finds it refunded
        ({"lines": [all_p]}, {"lines": [{"product_id": q}]}),  # both: together the whole
        ({"lines": [{**all_p, "qty": 1}]}, {"lines": [{**all_p, "qty": 1}, {"product_id": q}]}),
    ]
    with (
        here.client("customer") as customer,
        here.client("clerk") as clerk,
        there.client("admin") as admin,
    ):
        for n in range(ROUNDS):
            order = buy(customer, {p: P_QTY, q: Q_QTY})
            mine, theirs = asks[n % len(asks)]
            which = {"order_id": order["id"], "reason": "two clerks"}
            outcomes = race(
                [
                    (clerk, "clerk.refund", {**which, **mine}),
                    (admin, "clerk.refund", {**which, **theirs}),
                ]
            )
            for outcome in outcomes:
                refunded_or_refused(outcome)
            after = customer.call("order.get", order_id=order["id"])
            got = {line["product_id"]: line["refunded_qty"] for line in after["lines"]}
            wins = [o for o in outcomes if isinstance(o, dict)]
            paid_back = sum(o["refund"]["amount"] for o in wins)
            assert paid_back == got[p] * 10_000 + got[q] * 3_000, (n, outcomes, after)
            assert got[p] <= P_QTY and got[q] <= Q_QTY
            whole = got == {p: P_QTY, q: Q_QTY}
            assert (after["status"] == "refunded") == whole, (n, after)
            if n % len(asks) in (0, 1):
                assert len(wins) == 1, (n, outcomes)
            else:
                assert len(wins) == 2, (n, outcomes)
            if n % len(asks) == 2:
                assert after["status"] == "refunded", "the last unit, on either server, ends it"

    with opened(pg_schema_url) as db:
        assert check_money(db) == []
    for product in (p, q):
        found = facts(pg_schema_url, product)
        assert found["problems"] == []
        assert sum(found["orders"].values()) == ROUNDS


@pytest.mark.pg
def test_a_refund_and_a_cancel_of_one_order_at_once_give_back_each_unit_once(
    servers: Any, pg_schema_url: str
) -> None:
    init_demo(pg_schema_url)
    p = add_product(pg_schema_url, "REFUND-C", 1000)
    here, there = (servers.start(db_url=pg_schema_url) for _ in range(2))
    with here.client("customer") as customer, there.client("clerk") as clerk:
        for _ in range(ROUNDS // 2):
            order = buy(customer, {p: P_QTY})
            partly = {
                "order_id": order["id"],
                "lines": [{"product_id": p, "qty": 1}],
                "reason": "x",
            }
            race(
                [
                    (customer, "order.cancel", {"order_id": order["id"]}),
                    (clerk, "clerk.refund", partly),
                ]
            )
    found = facts(pg_schema_url, p)
    assert found["problems"] == [], "each unit given back once: by the cancel or the refund"
    assert found["stock"] == 1000


@pytest.mark.pg
def test_one_key_sent_to_two_servers_at_once_refunds_once(servers: Any, pg_schema_url: str) -> None:
    init_demo(pg_schema_url)
    p = add_product(pg_schema_url, "REFUND-K", 1000)
    here, there = (servers.start(db_url=pg_schema_url) for _ in range(2))
    with (
        here.client("customer") as customer,
        here.client("clerk") as clerk,
        there.client() as same_clerk,
    ):
        same_clerk.resume(clerk.aio.token)
        for n in range(ROUNDS // 2):
            order = buy(customer, {p: P_QTY})
            again = {"order_id": order["id"], "reason": "once", "idempotency_key": f"k-{n}"}
            outcomes = race([(clerk, "clerk.refund", again), (same_clerk, "clerk.refund", again)])
            # A repeat that finds the first still waiting on the provider is told so.
            waited = [o for o in outcomes if isinstance(o, WarungError)]
            assert all(o.details.get("reason") == "in_progress" for o in waited), outcomes
            assert len(waited) < 2, outcomes
            answer = clerk.call("clerk.refund", again)
            assert answer["status"] == "refunded" and all(
                o == answer for o in outcomes if not isinstance(o, WarungError)
            ), (n, outcomes, answer)
    with opened(pg_schema_url) as db:
        (refunds,) = db.execute_sql("SELECT count(*) FROM refunds").fetchone()
        assert check_money(db) == []
    assert refunds == ROUNDS // 2
    assert facts(pg_schema_url, p)["problems"] == []


@pytest.mark.pg
def test_units_not_put_back_on_sale_leave_the_product_as_it_was_on_postgresql(
    servers: Any, pg_schema_url: str
) -> None:
    init_demo(pg_schema_url)
    p = add_product(pg_schema_url, "REFUND-UNFIT", 10, price=10_000)
    server = servers.start(db_url=pg_schema_url)
    with server.client("customer") as customer, server.client("clerk") as clerk:
        order = buy(customer, {p: 3})
        before = clerk.call("catalog.get", product_id=p)
        clerk.call(
            "clerk.refund",
            order_id=order["id"],
            lines=[{"product_id": p, "qty": 2}],
            reason="rusak",
            restock=False,
        )
        after = clerk.call("catalog.get", product_id=p)
    assert (after["stock"], after["version"]) == (before["stock"], before["version"]) == (7, 2)
    with opened(pg_schema_url) as db:
        moved = db.execute_sql(
            "SELECT kind, delta, stock_after FROM stock_movements WHERE product_id = %s "
            "AND kind IN ('refund', 'adjustment') ORDER BY id",
            (p,),
        ).fetchall()
    assert moved == [("refund", 2, 9), ("adjustment", -2, 7)]
    assert facts(pg_schema_url, p)["problems"] == []
