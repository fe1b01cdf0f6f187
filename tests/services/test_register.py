"""The till's register session: one open per clerk, its close balanced from that
session's own sales and refunds, and those running figures read before the close."""

from __future__ import annotations

from typing import Any

from twisted.internet.task import Clock

from protocol.errors import ErrorCode
from server import sql
from server.events import EventHub
from server.payments import FakeProvider
from server.services.refund import RefundService
from tests.services.inline_db import InlineDatabase, Shop, ask, error, result
from tests.services.shopping import CARD, DECLINED, PAY_S
from tests.services.till import Till, another_clerk, audited, line


def test_a_clerk_has_one_register_open_at_a_time(
    mini_shop: Shop, dbx: InlineDatabase, hub: EventHub, clock: Clock
) -> None:
    till = Till(dbx, hub, clock)

    opened = result(till.open(mini_shop.clerk, opening_cash=250_000))
    again = error(till.open(mini_shop.clerk))

    assert opened["status"] == "open" and opened["station"] == "kasir-1"
    assert opened["clerk_id"] == mini_shop.clerk.user_id and opened["opening_cash"] == 250_000
    assert again.code == ErrorCode.INVALID_STATE, "the partial unique index refuses a second"
    assert again.details == {"reason": "register_already_open"}
    assert result(till.open(another_clerk()))["id"] != opened["id"], "one per clerk, not per shop"
    assert audited(dbx, "clerk.register.open")[0] == (
        mini_shop.clerk.user_id,
        f"register:{opened['id']}",
        {"station": "kasir-1", "opening_cash": 250_000},
    )


def test_closing_without_an_open_register_is_refused(
    mini_shop: Shop, dbx: InlineDatabase, hub: EventHub, clock: Clock
) -> None:
    till = Till(dbx, hub, clock)

    refused = error(till.close(mini_shop.clerk, 0))

    assert refused.code == ErrorCode.INVALID_STATE
    assert refused.details == {"reason": "no_open_register"}


def test_the_close_balances_the_cash_of_this_session_only(
    mini_shop: Shop, dbx: InlineDatabase, hub: EventHub, clock: Clock
) -> None:
    till, clerk = Till(dbx, hub, clock), mini_shop.clerk
    result(till.open(clerk))
    result(till.sell(clerk, line(mini_shop.kopi), key="yesterday"))
    result(till.close(clerk, 117_500))
    register = result(till.open(clerk, opening_cash=100_000))
    tendered = {"method": "cash", "tendered": 20_000}
    cash = result(till.sell(clerk, line(mini_shop.kopi), payment=tendered))
    result(till.sell(clerk, line(mini_shop.teh), key="sale-2"))
    card = till.sell(clerk, line(mini_shop.kopi), payment=CARD, key="sale-3")
    declined = till.sell(clerk, line(mini_shop.teh), payment=DECLINED, key="sale-4")
    clock.advance(PAY_S)
    card_sale, _ = result(card), error(declined)
    refund(dbx, cash["id"], register["id"], "cash", 9_000)
    refund(dbx, card_sale["id"], register["id"], "card", 5_000)
    refund(dbx, cash["id"], None, "cash", 1_000)  # refunded with no register open: not here

    closed = result(till.close(clerk, 115_000))

    assert closed["id"] == register["id"] and closed["status"] == "closed"
    assert list(closed)[-5:] == [  # in PROTOCOL.md's order
        "closed_at",
        "expected_cash",
        "counted_cash",
        "difference",
        "by_method",
    ]
    assert closed["opening_cash"] == 100_000 and closed["closed_at"] >= closed["opened_at"]
    assert closed["by_method"] == {
        "cash": {"count": 2, "total": 17_500 + 9_000 - 9_000, "refunded": 9_000, "refunds": 1},
        "card": {"count": 1, "total": 17_500 - 5_000, "refunded": 5_000, "refunds": 1},
        "ewallet": {"count": 0, "total": 0, "refunded": 0, "refunds": 0},
    }, "the declined sale and the earlier session's sale are not counted"
    assert closed["expected_cash"] == 100_000 + 17_500
    assert closed["counted_cash"] == 115_000 and closed["difference"] == -2_500
    assert audited(dbx, "clerk.register.close")[-1] == (
        clerk.user_id,
        f"register:{register['id']}",
        {"expected_cash": 117_500, "counted_cash": 115_000, "difference": -2_500},
    )
    assert error(till.close(clerk, 0)).details == {"reason": "no_open_register"}


def test_the_running_figures_are_what_the_close_then_returns(
    mini_shop: Shop, dbx: InlineDatabase, hub: EventHub, clock: Clock
) -> None:
    till, clerk = Till(dbx, hub, clock), mini_shop.clerk
    refunds = RefundService(dbx, hub, FakeProvider(clock), clock)
    register = result(till.open(clerk, opening_cash=100_000))
    cash = result(till.sell(clerk, line(mini_shop.kopi, 2)))
    card = till.sell(clerk, line(mini_shop.teh), payment=CARD, key="sale-2")
    clock.advance(PAY_S)
    result(card)
    writes = dbx.writes

    before = result(till.get(clerk))

    assert dbx.writes == writes, "reading the register writes nothing (not even an audit row)"
    assert before == {
        **register,
        "expected_cash": 100_000 + 35_000,
        "by_method": {
            "cash": {"count": 1, "total": 35_000, "refunded": 0, "refunds": 0},
            "card": {"count": 1, "total": 9_000, "refunded": 0, "refunds": 0},
            "ewallet": {"count": 0, "total": 0, "refunded": 0, "refunds": 0},
        },
    }
    refunded = ask(
        refunds.refund,
        clerk,
        "clerk.refund",
        order_id=cash["id"],
        lines=[line(mini_shop.kopi)],
        reason="spilt",
    )
    assert result(refunded)["refund"]["register_id"] == register["id"]
    result(till.sell(clerk, line(mini_shop.teh), key="sale-3"))  # on yet another connection

    now = result(till.get(clerk))
    closed = result(till.close(clerk, 120_000))

    assert now == {
        **register,
        "expected_cash": 100_000 + 35_000 - 17_500 + 9_000,
        "by_method": {
            "cash": {
                "count": 2,
                "total": 35_000 - 17_500 + 9_000,
                "refunded": 17_500,
                "refunds": 1,
            },
            "card": {"count": 1, "total": 9_000, "refunded": 0, "refunds": 0},
            "ewallet": {"count": 0, "total": 0, "refunded": 0, "refunds": 0},
        },
    }, "the cash refund at this till is out of the drawer, the other connection's sale in"
    assert (now["expected_cash"], now["by_method"]) == (
        closed["expected_cash"],
        closed["by_method"],
    ), "the close computes what the read showed"
    assert closed["difference"] == 120_000 - 126_500
    refused = error(till.get(clerk))
    assert refused.code == ErrorCode.INVALID_STATE
    assert refused.details == {"reason": "no_open_register"}


def refund(
    dbx: InlineDatabase, order_id: int, register_id: int | None, method: str, amount: int
) -> Any:
    """A refund row as `clerk.refund` writes one (only the columns the close reads)."""
    return sql.execute(
        dbx.db,
        "INSERT INTO refunds (order_id, user_id, register_id, method, amount, reason, created_at) "
        "VALUES (?, (SELECT clerk_id FROM orders WHERE id = ?), ?, ?, ?, 'test', ?)",
        (order_id, order_id, register_id, method, amount, sql.now()),
    )
