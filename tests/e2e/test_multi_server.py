"""Several servers on one PostgreSQL: checkouts racing on one key, restarts beside work."""

import asyncio
import os

import psycopg2
import pytest

from protocol.errors import Conflict, InvalidState, Unavailable
from tests.e2e.harness import wait_until
from tests.e2e.shopdb import facts, init_demo

CARD = {"method": "card", "token": "tok"}
pytestmark = pytest.mark.pg


@pytest.fixture
def two_servers(servers, pg_schema_url):
    init_demo(pg_schema_url)
    return [servers.start("--payment-delay", "2", db_url=pg_schema_url) for _ in range(2)]


async def both_check_out(first, second, keys: tuple[str, str]):
    """The customer, signed in on both servers with one product in the cart, checks out on
    each at once with its key: (one client per server, the product, the two outcomes)."""
    here = await first.async_client("customer")
    there = await second.async_client()
    await there.resume(here.token)
    product = next(p for p in (await here.call("catalog.list"))["items"] if p["stock"] > 3)
    await here.call("cart.add", product_id=product["id"])
    outcomes = await asyncio.gather(
        here.call("order.checkout", idempotency_key=keys[0], payment=CARD),
        there.call("order.checkout", idempotency_key=keys[1], payment=CARD),
        return_exceptions=True,
    )
    return (here, there), product, outcomes


def test_one_key_on_two_servers_at_once_makes_one_order(two_servers, pg_schema_url):
    async def run():
        first, second = two_servers
        clients, product, outcomes = await both_check_out(first, second, ("both", "both"))
        paid = [o for o in outcomes if isinstance(o, dict)]
        refused = [o for o in outcomes if isinstance(o, Exception)]
        assert len(paid) == 1 and paid[0]["status"] == "paid", outcomes
        assert len(refused) == 1 and isinstance(refused[0], Conflict), outcomes
        assert refused[0].details == {"field": "idempotency_key", "reason": "in_progress"}
        again = await clients[1].call("order.checkout", idempotency_key="both", payment=CARD)
        assert again["id"] == paid[0]["id"]
        for client in clients:
            await client.close()
        return product

    product = asyncio.run(run())
    found = facts(pg_schema_url, product["id"])
    assert found["orders"] == {"paid": 1} and found["problems"] == []


def test_two_keys_for_one_cart_on_two_servers_at_once_buy_it_once(two_servers, pg_schema_url):
    async def run():
        first, second = two_servers
        clients, product, outcomes = await both_check_out(first, second, ("window-1", "window-2"))
        for client in clients:
            await client.close()
        return product, outcomes

    product, outcomes = asyncio.run(run())
    paid = [o for o in outcomes if isinstance(o, dict)]
    refused = [o for o in outcomes if isinstance(o, InvalidState)]
    assert len(paid) == 1 and len(refused) == 1, outcomes
    assert refused[0].details == {"reason": "checkout_pending", "order_id": paid[0]["id"]}
    found = facts(pg_schema_url, product["id"])
    assert found["orders"] == {"paid": 1} and found["problems"] == []


def test_a_cursor_from_one_server_pages_on_another(two_servers):
    """Cursors are signed with the shop's key, which the first server made and every server
    of the database reads, so a client sent to another server pages on."""
    first, second = two_servers
    with first.client("customer") as here, second.client("customer") as there:
        page = here.call("catalog.list", limit=3)
        rest = there.call("catalog.list", limit=3, cursor=page["next_cursor"])
        whole = here.call("catalog.list", limit=6)
    assert [p["id"] for p in page["items"] + rest["items"]] == [p["id"] for p in whole["items"]]


def test_a_server_starting_leaves_another_servers_pending_checkout_alone(
    two_servers, pg_schema_url
):
    first, second = two_servers

    async def run():
        here = await first.async_client("customer")
        product = next(p for p in (await here.call("catalog.list"))["items"] if p["stock"] > 3)
        await here.call("cart.add", product_id=product["id"])
        checkout = asyncio.create_task(here.checkout(CARD, "slow-one"))
        await asyncio.to_thread(wait_until, lambda: facts(pg_schema_url, product["id"])["orders"])
        await asyncio.to_thread(second.restart)  # starts while the payment is running
        order = await checkout
        await here.close()
        return product, order

    product, order = asyncio.run(run())
    assert order["status"] == "paid"
    assert facts(pg_schema_url, product["id"])["orders"] == {"paid": 1}


def test_a_database_restart_costs_at_most_one_answer_per_worker(servers, pg_schema_url):
    init_demo(pg_schema_url)
    server = servers.start(db_url=pg_schema_url)
    with server.client("customer") as c:
        assert c.call("catalog.list", limit=5)["items"]
        killed = terminate_backends(pg_schema_url, server.proc.pid)
        assert killed >= 1
        for _ in range(10):  # reads are retried on a fresh connection
            assert c.call("catalog.list", limit=5)["items"]
        product = c.call("catalog.list", limit=5)["items"][0]
        outcomes = []
        for _ in range(12):  # a write on a dead connection fails once per writer thread
            try:
                c.call("cart.set", product_id=product["id"], qty=1)
                outcomes.append("ok")
            except Unavailable:
                outcomes.append("unavailable")
        assert outcomes[-3:] == ["ok"] * 3, outcomes


def terminate_backends(url: str, pid: int) -> int:
    """End the database sessions of one server process, as a database restart would."""
    ports = client_ports(pid)
    with psycopg2.connect(url.split("?")[0]) as conn, conn.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE client_port = ANY(%s) AND application_name <> 'warung-listen'",
            (ports,),
        )
        row = cursor.fetchone()
        assert row is not None  # count() answers one row
        return row[0]


def client_ports(pid: int) -> list[int]:
    """Local ports of the TCP connections process `pid` holds to PostgreSQL (port 5432)."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        target = os.readlink(f"/proc/{pid}/fd/{fd}")
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    ports = []
    with open("/proc/net/tcp") as table:
        for row in table.read().splitlines()[1:]:
            fields = row.split()
            local, remote, inode = fields[1], fields[2], fields[9]
            if inode in inodes and remote.endswith(":1538"):  # 5432 in hex
                ports.append(int(local.split(":")[1], 16))
    return ports
