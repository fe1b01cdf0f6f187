"""The till over the wire: a clerk opens a register, rings up sales (cash, card, declined)
and closes with the cash counted; stock pushes reach customers, on every server."""

import asyncio
import secrets

import pytest

from protocol.client import AsyncClient, Push
from protocol.errors import Conflict, InvalidState, PaymentDeclined
from tests.e2e.harness import ServerProcess, wait_until_async
from tests.e2e.shopdb import facts, init_demo, opened

CARD = {"method": "card", "token": "tok"}


async def new_customer(port: int) -> AsyncClient:
    client = AsyncClient("127.0.0.1", port)
    await client.connect()
    name = f"c{secrets.token_hex(4)}"
    await client.call("auth.register", username=name, password="password-" + name)
    await client.login(name, "password-" + name)
    return client


async def stocked(client: AsyncClient, at_least: int = 5) -> list[dict]:
    """Products with at least `at_least` units, by id."""
    items = (await client.call("catalog.list", limit=200))["items"]
    return sorted((p for p in items if p["stock"] >= at_least), key=lambda p: p["id"])


async def sale(clerk: AsyncClient, lines: list[dict], payment: dict, key: str = "") -> dict:
    key = key or secrets.token_hex(8)
    return await clerk.call("clerk.sale", lines=lines, payment=payment, idempotency_key=key)


def test_a_cash_sale_over_the_wire_moves_the_stock_a_customer_sees(fresh_shop: ServerProcess):
    async def run():
        clerk = await fresh_shop.async_client("clerk")
        customer = await new_customer(fresh_shop.port)
        pushes: list[Push] = []
        customer.on_event(pushes.append)
        kopi, teh = (await stocked(clerk))[:2]
        await customer.subscribe_stock([kopi["id"], teh["id"]])
        await clerk.call("clerk.register.open", station="kasir-1", opening_cash=500_000)

        sold = await sale(
            clerk,
            [{"sku": kopi["sku"], "qty": 2}, {"product_id": teh["id"], "qty": 1}],
            {"method": "cash", "tendered": 2 * kopi["price"] + teh["price"] + 5_000},
        )

        assert (sold["status"], sold["channel"], sold["customer_id"]) == ("completed", "pos", None)
        assert sold["change_due"] == 5_000
        assert sold["payment"]["method"] == "cash" and sold["payment"]["status"] == "captured"
        want = {kopi["id"]: kopi["stock"] - 2, teh["id"]: teh["stock"] - 1}
        await wait_until_async(
            lambda: (
                {p.data["product_id"]: p.data["stock"] for p in pushes if p.event == "stock"}
                == want
            ),
            what="the sale's stock pushes",
        )
        assert not [p for p in pushes if p.event == "order"], "a sale has no owner to tell"
        assert (await clerk.call("order.get", order_id=sold["id"]))["status"] == "completed"
        await clerk.call("clerk.register.close", counted_cash=500_000 + sold["total"])
        for client in (clerk, customer):
            await client.close()
        return kopi

    kopi = asyncio.run(run())
    found = facts(fresh_shop.db_url, kopi["id"])
    assert found["orders"] == {"completed": 1} and found["problems"] == []


def test_a_card_sale_completes_and_a_declined_one_is_recorded_cancelled(
    fresh_shop: ServerProcess,
):
    async def run():
        clerk = await fresh_shop.async_client("clerk")
        product = (await stocked(clerk))[0]
        await clerk.call("clerk.register.open", station="kasir-2", opening_cash=0)

        sold = await sale(clerk, [{"product_id": product["id"], "qty": 1}], CARD)
        with pytest.raises(PaymentDeclined) as declined:
            await sale(
                clerk,
                [{"product_id": product["id"], "qty": 1}],
                {"method": "ewallet", "token": "decline"},
            )

        assert sold["status"] == "completed" and "change_due" not in sold
        assert sold["payment"]["provider"] == "fake" and sold["payment"]["reference"]
        record = await clerk.call("order.get", order_id=declined.value.details["order_id"])
        assert (record["status"], record["cancel_reason"]) == ("cancelled", "payment_declined")
        assert record["payment"]["status"] == "declined" and record["channel"] == "pos"
        after = (await clerk.call("catalog.get", product_id=product["id"]))["stock"]
        assert after == product["stock"] - 1, "the declined sale gave its unit back"
        closed = await clerk.call("clerk.register.close", counted_cash=0)
        assert closed["by_method"]["card"] == {
            "count": 1,
            "total": sold["total"],
            "refunded": 0,
            "refunds": 0,
        }
        assert closed["by_method"]["ewallet"] == {
            "count": 0,
            "total": 0,
            "refunded": 0,
            "refunds": 0,
        }
        await clerk.close()

    asyncio.run(run())


def test_a_register_outlives_its_connection_and_closes_with_the_difference(
    fresh_shop: ServerProcess,
):
    async def run():
        first = await fresh_shop.async_client("clerk")
        product = (await stocked(first))[0]
        opened_ = await first.call("clerk.register.open", station="kasir-3", opening_cash=100_000)
        with pytest.raises(InvalidState) as twice:
            await first.call("clerk.register.open", station="kasir-3", opening_cash=0)
        assert twice.value.details == {"reason": "register_already_open"}
        await first.close()

        later = await fresh_shop.async_client("clerk")  # another connection, same clerk
        sold = await sale(later, [{"product_id": product["id"], "qty": 1}], {"method": "cash"})
        closed = await later.call("clerk.register.close", counted_cash=100_000)

        assert closed["id"] == opened_["id"] and closed["status"] == "closed"
        assert closed["expected_cash"] == 100_000 + sold["total"]
        assert closed["difference"] == -sold["total"], "the sale's cash is missing"
        assert closed["by_method"]["cash"] == {
            "count": 1,
            "total": sold["total"],
            "refunded": 0,
            "refunds": 0,
        }
        with pytest.raises(InvalidState) as again:
            await later.call("clerk.register.close", counted_cash=0)
        assert again.value.details == {"reason": "no_open_register"}
        await later.close()

    asyncio.run(run())


def test_the_register_read_before_the_close_has_the_figures_the_close_returns(
    fresh_shop: ServerProcess,
):
    async def run():
        till = await fresh_shop.async_client("clerk")
        other = await fresh_shop.async_client("clerk")  # another connection, same clerk
        with pytest.raises(InvalidState) as none_yet:
            await till.call("clerk.register.get")
        assert none_yet.value.details == {"reason": "no_open_register"}
        product = (await stocked(till))[0]
        opened_ = await till.call("clerk.register.open", station="kasir-4", opening_cash=50_000)
        sold = await sale(till, [{"product_id": product["id"], "qty": 2}], {"method": "cash"})
        await till.call(
            "clerk.refund",
            order_id=sold["id"],
            lines=[{"product_id": product["id"], "qty": 1}],
            reason="returned",
        )
        elsewhere = await sale(other, [{"product_id": product["id"], "qty": 1}], CARD)

        read = await other.call("clerk.register.get")
        closed = await till.call("clerk.register.close", counted_cash=50_000)

        assert {k: read[k] for k in opened_} == opened_, "the register as it was opened"
        assert read["expected_cash"] == 50_000 + product["price"], "two sold, one refunded"
        assert read["by_method"]["card"] == {
            "count": 1,
            "total": elsewhere["total"],
            "refunded": 0,
            "refunds": 0,
        }
        assert (read["expected_cash"], read["by_method"]) == (
            closed["expected_cash"],
            closed["by_method"],
        )
        for client in (till, other):
            await client.close()

    asyncio.run(run())


@pytest.fixture
def two_servers(servers, pg_schema_url):
    init_demo(pg_schema_url)
    return [servers.start("--payment-delay", "1", db_url=pg_schema_url) for _ in range(2)]


@pytest.mark.pg
def test_one_sale_key_on_two_servers_at_once_makes_one_sale(two_servers, pg_schema_url):
    first, second = two_servers

    async def run():
        here = await first.async_client("clerk")
        there = await second.async_client()
        await there.resume(here.token)
        customer = await new_customer(second.port)
        pushes: list[Push] = []
        customer.on_event(pushes.append)
        product = (await stocked(here))[0]
        await customer.subscribe_stock([product["id"]])
        await here.call("clerk.register.open", station="kasir-1", opening_cash=0)
        lines = [{"product_id": product["id"], "qty": 1}]

        outcomes = await asyncio.gather(
            sale(here, lines, CARD, key="both"),
            sale(there, lines, CARD, key="both"),
            return_exceptions=True,
        )

        sold = [o for o in outcomes if isinstance(o, dict)]
        refused = [o for o in outcomes if isinstance(o, Exception)]
        assert len(sold) == 1 and sold[0]["status"] == "completed", outcomes
        assert len(refused) == 1 and isinstance(refused[0], Conflict), outcomes
        assert refused[0].details == {"field": "idempotency_key", "reason": "in_progress"}
        again = await sale(there, lines, CARD, key="both")
        assert again["id"] == sold[0]["id"]
        await wait_until_async(
            lambda: [p for p in pushes if p.event == "stock"],
            what="the stock push on the other server",
        )
        assert pushes[-1].data["stock"] == product["stock"] - 1
        for client in (here, there, customer):
            await client.close()
        return product

    product = asyncio.run(run())
    found = facts(pg_schema_url, product["id"])
    assert found["orders"] == {"completed": 1} and found["problems"] == []
    with opened(pg_schema_url) as db:
        keyed = db.execute_sql("SELECT count(*) FROM orders WHERE idempotency_key = 'both'")
        assert keyed.fetchone() == (1,)


def test_a_sale_for_a_total_its_lines_no_longer_cost_sells_nothing(fresh_shop: ServerProcess):
    """The till sends the total it showed: a price changed since the till read it makes
    the lines cost another amount, so the sale is refused and nothing is recorded; the
    new total, agreed to, sells them under the same key."""

    async def run():
        clerk = await fresh_shop.async_client("clerk")
        admin = await fresh_shop.async_client("admin")
        await clerk.call("clerk.register.open", station="kasir-9", opening_cash=0)
        product = (await stocked(clerk))[0]
        shown = 2 * product["price"]
        await admin.call(
            "admin.product.update", product_id=product["id"], price=product["price"] + 500
        )
        lines = [{"product_id": product["id"], "qty": 2}]
        args = {"lines": lines, "payment": {"method": "cash"}, "idempotency_key": "till-9-1"}

        with pytest.raises(Conflict) as refused:
            await clerk.call("clerk.sale", **args, expected_total=shown)
        assert refused.value.details == {
            "field": "expected_total",
            "reason": "total_changed",
            "total": shown + 1_000,
        }
        assert (await clerk.call("catalog.get", product_id=product["id"]))["stock"] == product[
            "stock"
        ]
        sold = await clerk.call("clerk.sale", **args, expected_total=shown + 1_000)
        assert (sold["status"], sold["total"]) == ("completed", shown + 1_000)
        await clerk.call("clerk.register.close", counted_cash=sold["total"])
        for client in (clerk, admin):
            await client.close()
        return product

    product = asyncio.run(run())
    assert facts(fresh_shop.db_url, product["id"])["orders"] == {"completed": 1}
