"""The deployment of docs/deploy.md, run for real: two servers on one PostgreSQL behind
HAProxy running deploy/haproxy.cfg itself, clients through the proxy, one server stopped
under them.

Needs `haproxy` (Debian's package). Without it the test skips, unless CI=true: then it fails,
since .ci/run installs it.
"""

from __future__ import annotations

import asyncio
import csv
import os
import re
import secrets
import shutil
import socket
import subprocess
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from protocol.client import AsyncClient, Push, State
from protocol.errors import Conflict
from protocol.framing import FrameDecoder, Message, encode
from protocol.rules import PROTOCOL_VERSION
from tests.e2e.harness import ServerProcess, wait_until, wait_until_async
from tests.e2e.raw import RawConnection
from tests.e2e.shopdb import facts, init_demo, opened

CONFIG = Path(__file__).resolve().parents[2] / "deploy" / "haproxy.cfg"
# What docs/deploy.md tells operators to give each server behind the proxy: every client
# arrives from HAProxy's address, so the per-address connection budget is the whole shop's.
BEHIND_PROXY = (
    "--limit",
    "connections_per_address_per_s=2000",
    "--limit",
    "connection_burst_per_address=10000",
    "--limit",
    "max_connections_per_address=10000",
)
PAYMENT_DELAY_S = 1.0  # long enough to retry a checkout while the first is still running
CARD = {"method": "card", "token": "tok"}
DEADLINE_S = 15.0


def test_the_health_check_says_hello_as_the_protocol_spells_it():
    """deploy/haproxy.cfg carries a hello frame as hex: it must be a valid one."""
    config = CONFIG.read_text()
    sent = bytes.fromhex(re.search(r"tcp-check send-binary (\w+)", config).group(1))
    expected = re.search(r"tcp-check expect binary (\w+)", config).group(1)
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


@pytest.mark.pg
def test_two_servers_behind_haproxy_share_the_shop_and_take_over_each_others_clients(
    servers, pg_schema_url, tmp_path
):
    binary = haproxy_binary()
    init_demo(pg_schema_url)
    extra = ("--metrics-port", "0", "--payment-delay", str(PAYMENT_DELAY_S), *BEHIND_PROXY)
    first, second = (servers.start(*extra, db_url=pg_schema_url) for _ in range(2))
    proxy = None
    try:
        front, monitoring = free_ports(2)
        ports = {"front": front, "w1": first.port, "w2": second.port, "monitoring": monitoring}
        rendered = tmp_path / "haproxy.cfg"
        admin = tmp_path / "admin.sock"
        rendered.write_text(render(CONFIG.read_text(), ports, admin))
        proxy = HAProxy(binary, rendered, admin, monitoring).start()
        wait_until(lambda: answers_hello(front, proxy), DEADLINE_S, "HAProxy to answer hello")
        wait_until(
            lambda: proxy.servers_up() == {"w1", "w2"},
            DEADLINE_S,
            "both servers to pass their health check",
        )
        assert proxy.metric('haproxy_backend_active_servers{proxy="warung"}') == 2
        report = asyncio.run(through_the_proxy(front, first, second, proxy, pg_schema_url))
    finally:
        if proxy is not None:
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
    twin = await Station.resumed(front, buyer.client.token)
    triplet = await Station.resumed(front, buyer.client.token)
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
    fanout_ms = (max(s.stock_seen(pid, product["stock"] - 1) for s in stations) - started) * 1000
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


@dataclass
class Station:
    """A client through the proxy, with what it was pushed and the states it went through."""

    client: AsyncClient
    pushes: list[tuple[float, Push]] = field(default_factory=list)
    states: list[State] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.client.on_event(lambda push: self.pushes.append((time.monotonic(), push)))
        self.client.on_state(self.states.append)

    @classmethod
    async def connected(cls, port: int) -> Station:
        station = cls(AsyncClient("127.0.0.1", port))
        await station.client.connect()
        return station

    @classmethod
    async def signed_in(cls, port: int, username: str, password: str) -> Station:
        station = await cls.connected(port)
        await station.client.login(username, password)
        return station

    @classmethod
    async def new_customer(cls, port: int) -> Station:
        station = await cls.connected(port)
        name, password = f"d{secrets.token_hex(4)}", secrets.token_urlsafe(12)
        await station.client.call("auth.register", username=name, password=password)
        await station.client.login(name, password)
        return station

    @classmethod
    async def resumed(cls, port: int, token: str) -> Station:
        station = await cls.connected(port)
        await station.client.resume(token)
        return station

    def saw(self, event: str) -> bool:
        return any(push.event == event for _, push in self.pushes)

    def saw_stock(self, product_id: int, stock: int) -> bool:
        return self.stock_seen(product_id, stock) is not None

    def stock_seen(self, product_id: int, stock: int) -> float | None:
        """When the stock event that put the product at `stock` arrived."""
        return next(
            (
                at
                for at, push in self.pushes
                if push.event == "stock"
                and push.data.get("product_id") == product_id
                and push.data.get("stock") == stock
            ),
            None,
        )

    def order_status(self, order_id: int | None) -> str | None:
        """The newest status pushed for that order (None: for any order)."""
        statuses = [
            push.data["status"]
            for _, push in self.pushes
            if push.event == "order" and order_id in (None, push.data["id"])
        ]
        return statuses[-1] if statuses else None


# -- HAProxy


def haproxy_binary() -> str:
    found = shutil.which("haproxy") or shutil.which("haproxy", path="/usr/sbin:/usr/local/sbin")
    if found:
        return found
    reason = "haproxy is not installed (apt-get install haproxy; .ci/run installs it)"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}; CI=true, so this fails instead of skipping", pytrace=False)
    pytest.skip(reason)


def render(config: str, ports: dict[str, int], admin: Path) -> str:
    """deploy/haproxy.cfg on loopback: the address on the line marked `# test: NAME` becomes
    127.0.0.1:ports[NAME], the runtime API socket a temporary path, and chroot, user and
    group (which need root) go. The rest runs as committed."""
    targets = {name: f"127.0.0.1:{port}" for name, port in ports.items()}
    seen: list[str] = []
    lines = []
    for line in config.splitlines():
        words = line.split()
        if words[:1] in (["chroot"], ["user"], ["group"]):
            continue
        if words[:2] == ["stats", "socket"]:
            line = line.replace(words[2], str(admin))
            seen.append("stats socket")
        if marker := re.search(r"#\s*test:\s*(\w+)\s*$", line):
            line, n = re.subn(r"(?<=\s)\S*:\d+(?=\s)", targets[marker.group(1)], line, count=1)
            assert n == 1, f"no address to replace in {line!r}"
            seen.append(marker.group(1))
        lines.append(line)
    assert sorted(seen) == sorted([*targets, "stats socket"]), f"markers found: {seen}"
    return "\n".join(lines) + "\n"


class HAProxy:
    def __init__(self, binary: str, config: Path, admin: Path, monitoring: int) -> None:
        self.argv = [binary, "-f", str(config), "-db"]
        self.admin = admin
        self.metrics_url = f"http://127.0.0.1:{monitoring}/metrics"
        self.proc: subprocess.Popen[str] | None = None
        self.log: list[str] = []

    def start(self) -> HAProxy:
        self.proc = subprocess.Popen(
            self.argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        threading.Thread(target=self._pump, args=(self.proc,), daemon=True).start()
        return self

    def _pump(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            self.log.append(line)

    def running(self) -> bool:
        if self.proc is None or self.proc.poll() is not None:
            raise AssertionError("haproxy exited:\n" + "".join(self.log))
        return True

    def ask(self, command: str) -> str:
        """One command on the runtime API socket."""
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(5)
            sock.connect(str(self.admin))
            sock.sendall(command.encode() + b"\n")
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks).decode()

    def servers(self) -> dict[str, tuple[str, str]]:
        """Each server of the backend: its status ("UP", "UP 1/3", "DOWN"...) and last check."""
        self.running()
        try:
            stats = self.ask("show stat")
        except (FileNotFoundError, ConnectionRefusedError):  # not listening yet
            return {}
        rows = csv.DictReader(stats.lstrip("# ").splitlines())
        return {
            row["svname"]: (row["status"], row["check_status"])
            for row in rows
            if row["pxname"] == "warung" and row["svname"] not in ("FRONTEND", "BACKEND")
        }

    def metric(self, name: str) -> float:
        """One sample of HAProxy's Prometheus exporter (frontend "monitoring")."""
        text = urllib.request.urlopen(self.metrics_url, timeout=5).read().decode()
        [value] = [line[len(name) :] for line in text.splitlines() if line.startswith(name + " ")]
        return float(value)

    def servers_up(self) -> set[str]:
        """The servers that are up and passed their last check (their hello was answered)."""
        return {name for name, state in self.servers().items() if state == ("UP", "L7OK")}

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


def answers_hello(port: int, proxy: HAProxy) -> bool:
    proxy.running()
    try:
        raw = RawConnection(port, timeout=2)
    except OSError:
        return False
    try:
        return raw.hello()["ok"]
    except (OSError, TimeoutError):
        return False
    finally:
        raw.close()


# -- servers


def free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def count(server: ServerProcess) -> int:
    """The server's open connections, from its metrics (health checks included while open)."""
    return server.open_connections()


def connections(first: ServerProcess, second: ServerProcess, total: int) -> tuple[int, int] | None:
    """Both servers' connection counts, once they add up to `total` (no check in flight)."""
    counts = (count(first), count(second))
    return counts if sum(counts) == total else None
