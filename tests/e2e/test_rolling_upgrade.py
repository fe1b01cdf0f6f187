"""The rolling upgrade of docs/operations.md, run for real: two servers on one PostgreSQL
behind HAProxy (deploy/haproxy.cfg), customers connected through it browsing, checking out
and subscribed to stock, while each server in turn is drained in HAProxy, stopped with
SIGTERM and replaced on its port by the "new version" (a copy of this code that names itself
differently in `hello`), then put back to ready.

Nothing a client sends fails but what a draining server answers (`unavailable` `draining`,
retried after `retry_after_ms`) or, for a request crossing its closing, the link it closes
after `server.shutdown` (retried on the next link, with the same key for a checkout); every
checkout's key made one order, answered once; stock pushes arrive from the new servers.
"""

from __future__ import annotations

import asyncio
import secrets
import shutil
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from protocol.client import ConnectionLost, State
from protocol.errors import Conflict, Unavailable
from server.services.session import SERVER_NAME
from tests.e2e.haproxy import BEHIND_PROXY, HAProxy, haproxy_binary, start_haproxy
from tests.e2e.harness import (
    ServerProcess,
    Servers,
    wait_until,
    wait_until_async,
    wait_while_running,
)
from tests.e2e.raw import RawConnection
from tests.e2e.shopdb import add_product, facts, init_demo, opened
from tests.e2e.station import Station

NEXT_NAME = "warung/0.1.0+next"
CUSTOMERS = 6
PAYMENT_DELAY_S = 0.3  # checkouts are in flight when a server is told to stop
START_STOCK = 10_000
CARD = {"method": "card", "token": "tok"}
DEADLINE_S = 20.0
# PROTOCOL.md: what a draining server answers; and a request that crosses its closing
# (sent at the moment it closes, after it said `server.shutdown`) finds the link gone
RETRYABLE = {"unavailable/draining", "connection_lost/after_shutdown"}
ANNOUNCED_S = 15.0  # a link lost this soon after `server.shutdown` is the drain's closing
ROOT = Path(__file__).resolve().parents[2]


def next_version(where: Path) -> Path:
    """A copy of this warung's code whose `hello` names it `NEXT_NAME`: the new version. A
    server started with it as working directory runs it (`python -m` imports from there)."""
    for package in ("server", "db", "protocol"):
        shutil.copytree(
            ROOT / package, where / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    session = where / "server" / "services" / "session.py"
    code = session.read_text()
    assert f'"{SERVER_NAME}"' in code
    session.write_text(code.replace(f'"{SERVER_NAME}"', f'"{NEXT_NAME}"'))
    return where


@pytest.mark.pg
def test_a_rolling_upgrade_behind_haproxy_fails_no_request_and_loses_no_order(
    servers: Servers, pg_schema_url: str, tmp_path: Path
) -> None:
    haproxy_binary()  # skips before anything starts when there is none
    init_demo(pg_schema_url)
    product = add_product(pg_schema_url, "ROLL-1", START_STOCK)
    extra = ("--payment-delay", str(PAYMENT_DELAY_S), *BEHIND_PROXY)
    old = {name: servers.start(*extra, db_url=pg_schema_url) for name in ("w1", "w2")}
    proxy, front = start_haproxy(tmp_path, {name: s.port for name, s in old.items()})
    raw = RawConnection(front)  # the servers take connections from HAProxy only
    assert raw.hello()["result"]["server"] == SERVER_NAME != NEXT_NAME
    raw.close()
    upgrade = Upgrade(servers, proxy, pg_schema_url, extra, next_version(tmp_path / "next"))
    try:
        report = asyncio.run(shop_through_an_upgrade(front, product, upgrade, old))
    finally:
        proxy.stop()

    failures: Counter[str] = report["failures"]
    assert set(failures) <= RETRYABLE, failures
    keys: dict[str, int] = report["keys"]
    with opened(pg_schema_url) as db:
        rows = db.execute_sql(
            "SELECT idempotency_key, id FROM orders WHERE idempotency_key IS NOT NULL"
        ).fetchall()
    assert sorted(rows) == sorted(keys.items()), "an order lost, doubled or made untold"
    found = facts(pg_schema_url, product)
    assert found == {
        "stock": START_STOCK - len(keys),
        "orders": {"paid": len(keys)},
        "problems": [],
    }
    for server in servers.started:
        bad = [i for i, line in enumerate(server.log) if "#critical" in line or "#error" in line]
        assert not bad, "".join(server.log[bad[0] : bad[0] + 30])
    print(
        f"\n{len(keys)} checkouts and {report['calls']} calls by {CUSTOMERS} customers through "
        f"two server swaps ({', '.join(f'{s:.1f} s' for s in report['swaps'])}); retried: "
        f"{dict(failures) or 'nothing'}"
    )


@dataclass
class Upgrade:
    """Replaces a server behind HAProxy by the new version, as docs/operations.md says."""

    servers: Servers
    proxy: HAProxy
    url: str
    extra: tuple[str, ...]
    code: Path  # the new version's

    def swap(self, name: str, old: ServerProcess) -> ServerProcess:
        """Drain `name` in HAProxy, SIGTERM it (it drains too), start the new version on its
        port, make it ready; returns once HAProxy has it up again."""
        assert self.proxy.ask(f"set server warung/{name} state drain").strip() == ""
        wait_until(lambda: self.proxy.servers()[name][0] == "DRAIN", DEADLINE_S, "drain")
        old.stop()
        assert old.proc is not None and old.proc.returncode == 0, "it did not drain cleanly"
        new = self.servers.start(*self.extra, db_url=self.url, cwd=self.code, port=old.port)
        assert self.proxy.ask(f"set server warung/{name} state ready").strip() == ""
        wait_until(lambda: name in self.proxy.servers_up(), DEADLINE_S, f"{name} up again")
        return new


async def shop_through_an_upgrade(
    front: int, product: int, upgrade: Upgrade, old: dict[str, ServerProcess]
) -> dict[str, Any]:
    stations = [await Station.new_customer(front) for _ in range(CUSTOMERS)]
    for station in stations:
        await station.client.subscribe_stock([product])
    failures: Counter[str] = Counter()
    keys: dict[str, int] = {}
    calls = Counter[str]()
    stop = asyncio.Event()

    async def customer(station: Station) -> None:
        while not stop.is_set():
            await retrying(station, "catalog.list", {"limit": 20}, failures, calls)
            await retrying(station, "cart.add", {"product_id": product, "qty": 1}, failures, calls)
            key = secrets.token_hex(8)
            args = {"idempotency_key": key, "payment": CARD}
            order = await retrying(station, "order.checkout", args, failures, calls)
            assert key not in keys
            keys[key] = order["id"]

    shopping = asyncio.gather(*(customer(s) for s in stations))

    async def more_checkouts() -> None:
        """Two more checkouts per customer, on the servers as they are now."""
        target = len(keys) + 2 * CUSTOMERS
        await wait_while_running(shopping, lambda: len(keys) >= target, DEADLINE_S, "checkouts")

    swaps = []
    for name in ("w1", "w2"):
        await more_checkouts()
        began = time.monotonic()
        swapping = asyncio.ensure_future(asyncio.to_thread(upgrade.swap, name, old[name]))
        await wait_while_running(shopping, swapping.done, 3 * DEADLINE_S, f"{name} swapped")
        await swapping
        swaps.append(time.monotonic() - began)
    await more_checkouts()
    stop.set()
    await shopping

    for station in stations:
        assert State.RECONNECTING in station.states  # every one moved at least once
        assert station.client.hello["server"] == NEXT_NAME
    # a sale now reaches every subscriber, each on a new server
    await stations[0].client.call("cart.add", product_id=product, qty=1)
    last = await stations[0].client.checkout(CARD, idempotency_key="after-the-upgrade")
    keys["after-the-upgrade"] = last["id"]
    stock = START_STOCK - len(keys)
    await wait_until_async(
        lambda: all(s.saw_stock(product, stock) for s in stations),
        DEADLINE_S,
        "every subscriber to see the last sale",
    )
    for station in stations:
        await station.client.close()
    return {"failures": failures, "keys": keys, "calls": sum(calls.values()), "swaps": swaps}


async def retrying(
    station: Station, op: str, args: dict[str, Any], failures: Counter[str], calls: Counter[str]
) -> dict[str, Any]:
    """`op` as an application following PROTOCOL.md sends it: repeated (with the same key)
    after each answer that says to, counting each; anything else fails the test."""
    client = station.client
    while True:
        calls[op] += 1
        try:
            await client.wait_connected(DEADLINE_S)
            return await client.call(op, args)
        except Unavailable as refused:
            failures[f"unavailable/{refused.details.get('reason')}"] += 1
            await asyncio.sleep(refused.details.get("retry_after_ms", 100) / 1000)
        except Conflict as busy:
            if busy.details.get("reason") != "in_progress":
                raise
            failures["conflict/in_progress"] += 1
            await asyncio.sleep(0.1)
        except ConnectionLost:
            notices = [at for at, push in station.pushes if push.event == "server.shutdown"]
            announced = notices and time.monotonic() - notices[-1] < ANNOUNCED_S
            failures[f"connection_lost/{'after_shutdown' if announced else 'unannounced'}"] += 1
