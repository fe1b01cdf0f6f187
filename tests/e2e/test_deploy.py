"""The deployment of docs/deploy.md, run for real: two servers on one PostgreSQL behind
HAProxy running deploy/haproxy.cfg itself, clients through the proxy, one server stopped
under them.

Needs `haproxy` (see tests/e2e/haproxy.py).
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import time

import pytest

from protocol.client import State
from protocol.errors import Conflict
from protocol.framing import FrameDecoder, Message, encode
from protocol.rules import PROTOCOL_VERSION
from tests.e2e.haproxy import (
    BEHIND_PROXY,
    CONFIG,
    HAProxy,
    connections,
    count,
    haproxy_binary,
    start_haproxy,
)
from tests.e2e.harness import ServerProcess, wait_until_async
from tests.e2e.raw import RawConnection
from tests.e2e.shopdb import facts, init_demo, opened
from tests.e2e.station import Station

PAYMENT_DELAY_S = 1.0  # long enough to retry a checkout while the first is still running
CARD = {"method": "card", "token": "tok"}
DEADLINE_S = 15.0


def test_the_health_check_says_hello_as_the_protocol_spells_it():
    """deploy/haproxy.cfg carries a hello frame as hex: it must be a valid one."""
    config = CONFIG.read_text()
    sent = bytes.fromhex(tcp_check(config, "send-binary"))
    expected = tcp_check(config, "expect binary")
    [message] = FrameDecoder(1 << 16).feed(sent)
    assert isinstance(message, Message)
    assert message.body == {
        "id": 1,
        "op": "hello",
        "args": {"protocol": PROTOCOL_VERSION, "client": "haproxy-check"},
    }
    assert encode(message.body) == sent
    # every answer, success or refusal, is a map with the key "id"
    assert expected == encode({"id": None})[5:8].hex()


def tcp_check(config: str, step: str) -> str:
    """The hex bytes of the config's `tcp-check` line for `step`."""
    found = re.search(rf"tcp-check {step} (\w+)", config)
    assert found, f"no tcp-check {step} in deploy/haproxy.cfg"
    return found.group(1)


@pytest.mark.pg
def test_two_servers_behind_haproxy_share_the_shop_and_take_over_each_others_clients(
    servers, pg_schema_url, tmp_path
):
    haproxy_binary()  # skips before anything starts when there is none
    init_demo(pg_schema_url)
    extra = ("--metrics-port", "0", "--payment-delay", str(PAYMENT_DELAY_S), *BEHIND_PROXY)
    first, second = (servers.start(*extra, db_url=pg_schema_url) for _ in range(2))
    proxy, front = start_haproxy(tmp_path, {"w1": first.port, "w2": second.port})
    try:
        assert proxy.metric('haproxy_backend_active_servers{proxy="warung"}') == 2
        report = asyncio.run(through_the_proxy(front, first, second, proxy, pg_schema_url))
    finally:
        proxy.stop()
    for server in (first, second):
        bad = [i for i, line in enumerate(server.log) if "#critical" in line or "#error" in line]
        assert not bad, "".join(server.log[bad[0] : bad[0] + 30])
    print(
        "\nstock event at {n} subscribers on two servers {fanout:.0f} ms after the checkout was "
        "sent; a server stopped: "
        "its {moved} clients ({notified} told server.shutdown) were back through HAProxy "
        "{failover:.0f} ms after SIGTERM ({exited:.0f} ms after it exited); HAProxy marked it "
        "down {down:.1f} s after it exited".format(**report)
    )


def test_per_address_limits_tell_clients_apart_through_haproxy(servers, tmp_path):
    """Through HAProxy's send-proxy-v2 each server sees every client's own address: one
    client address reaching its limits leaves another, through the same proxy, served.

    One server stands for both of the configuration's (a SQLite shop has one server), so
    that every connection meets the same limits."""
    haproxy_binary()
    shop = servers.start(
        *BEHIND_PROXY,
        "--limit",
        "max_connections_per_address=2",
        "--limit",
        "failed_logins_per_address_per_min=3",
    )
    proxy, front = start_haproxy(tmp_path, {"w1": shop.port, "w2": shop.port})
    try:
        greedy = [RawConnection(front, source="127.0.0.2") for _ in range(2)]
        for conn in greedy:
            assert conn.hello()["ok"]
        third = RawConnection(front, source="127.0.0.2")
        assert third.answer(None)["error"]["details"]["reason"] == "address_connections"
        neighbour = RawConnection(front, source="127.0.0.3")
        assert neighbour.hello()["ok"]

        guesses = [
            greedy[0].call("auth.login", username=f"nobody{i}", password="guess")["error"]
            for i in range(4)
        ]
        assert [e["code"] for e in guesses] == ["unauthenticated"] * 3 + ["rate_limited"]
        assert guesses[3]["details"]["reason"] == "address"
        signed_in = neighbour.call(
            "auth.login", username="customer", password=shop.passwords["customer"]
        )
        assert signed_in["ok"], signed_in

        assert proxy.servers_up() == {"w1", "w2"}  # the checks' LOCAL headers are accepted
    finally:
        proxy.stop()
    events = [
        json.loads(line.partition("security ")[2]) for line in shop.log if " security {" in line
    ]
    refused = [(e["event"], e["address"]) for e in events if e["event"] in REFUSALS]
    assert refused == [("conn.refused", "127.0.0.2"), ("auth.throttled", "127.0.0.2")]
    assert not [e for e in events if e["event"] == "conn.closed"], "no header was refused"


REFUSALS = ("conn.refused", "auth.throttled")


async def through_the_proxy(
    front: int, first: ServerProcess, second: ServerProcess, proxy: HAProxy, url: str
) -> dict[str, float]:
    passwords = first.passwords
    buyer = await Station.signed_in(front, "customer", passwords["customer"])
    stations = [buyer, *[await Station.new_customer(front) for _ in range(5)]]
    spread = await wait_until_async(
        lambda: connections(first, second, total=6), DEADLINE_S, "six connections"
    )
    assert spread[0] == spread[1] == 3, f"leastconn should spread six connections 3/3: {spread}"

    # two more connections of the buyer's session: with the servers even, leastconn sends
    # them to different servers, so the checkout below crosses from one server to the other
    token = buyer.client.token
    assert token is not None  # signed in
    twin = await Station.resumed(front, token)
    triplet = await Station.resumed(front, token)
    stations += [twin, triplet]
    assert await wait_until_async(
        lambda: connections(first, second, total=8), DEADLINE_S, "eight connections"
    ) == (4, 4)

    items = (await buyer.client.call("catalog.list", limit=200))["items"]
    product = next(p for p in items if p["stock"] >= 10)
    pid = product["id"]
    for station in stations:
        [row] = await station.client.subscribe_stock([pid])
        assert (row["stock"], row["version"]) == (product["stock"], product["version"]), (
            "nothing sold it: did another shop on the same database NOTIFY? (channels are "
            "per database, not per schema)"
        )

    # a checkout on one server; its retry on the other while it runs, then after
    await twin.client.call("cart.add", product_id=pid, qty=1)
    key = f"deploy-{secrets.token_hex(6)}"
    started = time.monotonic()
    running = asyncio.create_task(twin.client.checkout(CARD, idempotency_key=key))
    await wait_until_async(
        lambda: triplet.order_status(None) == "pending", DEADLINE_S, "the pending order next door"
    )
    with pytest.raises(Conflict) as in_progress:
        await triplet.client.call("order.checkout", idempotency_key=key, payment=CARD)
    assert in_progress.value.details["reason"] == "in_progress"
    order = await running
    assert order["status"] == "paid"
    await wait_until_async(
        lambda: all(s.saw_stock(pid, product["stock"] - 1) for s in stations),
        DEADLINE_S,
        "every subscriber to see the sale",
    )
    sold = product["stock"] - 1
    seen = [at for s in stations if (at := s.stock_seen(pid, sold)) is not None]
    assert len(seen) == len(stations)
    fanout_ms = (max(seen) - started) * 1000
    replay = await triplet.client.call("order.checkout", idempotency_key=key, payment=CARD)
    assert replay["id"] == order["id"]

    # stop one server: its clients lose their connections and come back through HAProxy
    before = await wait_until_async(
        lambda: connections(first, second, total=8), DEADLINE_S, "a quiet moment"
    )
    stopping = time.monotonic()
    await asyncio.to_thread(first.stop)
    stopped = time.monotonic()
    await wait_until_async(
        lambda: len([s for s in stations if State.RECONNECTING in s.states]) >= before[0],
        DEADLINE_S,
        "the stopped server's clients to notice",
    )
    for station in stations:
        await station.client.wait_connected(DEADLINE_S)
    back = time.monotonic()
    moved = [s for s in stations if State.RECONNECTING in s.states]
    assert len(moved) == before[0], (len(moved), before)
    notified = sum(s.saw("server.shutdown") for s in moved)
    assert notified == len(moved)  # each was told before its server closed
    await wait_until_async(
        lambda: count(second) == 8, DEADLINE_S, "all eight clients on the remaining server"
    )

    # everyone keeps working there: signed in, subscribed (the SDK restored both)
    for station in stations:
        assert (await station.client.call("cart.get"))["currency"] == product["currency"]
    replay = await twin.client.checkout(CARD, idempotency_key=key)
    assert replay["id"] == order["id"]
    await buyer.client.call("cart.add", product_id=pid, qty=2)
    again = await buyer.client.checkout(CARD)
    await wait_until_async(
        lambda: all(s.saw_stock(pid, product["stock"] - 3) for s in stations),
        DEADLINE_S,
        "every subscriber to see the sale after the failover",
    )
    for station in stations:
        await station.client.close()

    with opened(url) as db:
        keyed = db.execute_sql(
            "SELECT count(*) FROM orders WHERE idempotency_key = %s", (key,)
        ).fetchone()[0]
    assert keyed == 1
    found = facts(url, pid)
    assert found["stock"] == product["stock"] - 3
    assert found["orders"] == {"paid": 2}
    assert found["problems"] == []
    assert again["status"] == "paid"

    await wait_until_async(
        lambda: proxy.servers()["w1"][0] == "DOWN" and proxy.servers_up() == {"w2"},
        DEADLINE_S,
        "HAProxy to mark the stopped server down",
    )
    assert proxy.metric('haproxy_backend_active_servers{proxy="warung"}') == 1
    down = time.monotonic()
    return {
        "n": len(stations),
        "fanout": fanout_ms,
        "moved": len(moved),
        "notified": notified,
        "failover": (back - stopping) * 1000,
        "exited": (back - stopped) * 1000,
        "down": down - stopped,
    }
