"""`warung` in a real terminal (tmux): sign in, add a product, check out; a clerk's cash
sale at the till; and `--demo`.

Skipped where tmux is missing; `.ci/run` installs it, so CI always runs these.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import sys
import time
from pathlib import Path

import pytest

from client_tui.connection import Target
from client_tui.money import Money
from client_tui.settings import Settings
from tests.e2e.harness import wait_until
from tests.e2e.proxy import CuttableProxy
from tests.terminal import Terminal
from tests.tui.pilot import product_by_sku

pytestmark = pytest.mark.skipif(
    shutil.which("tmux") is None, reason="tmux is not installed (CI installs it in .ci/run)"
)


def warung_command() -> list[str]:
    """The `warung` console script of this environment (else the same, as a module)."""
    script = Path(sys.executable).parent / "warung"
    return [str(script)] if script.exists() else [sys.executable, "-m", "client_tui"]


def test_sign_in_add_and_check_out_in_a_real_terminal(shop, customer, home: Path):
    username, password = customer
    term = Terminal(home, [*warung_command(), "--port", str(shop.port), "--user", username])
    try:
        term.wait_for("Sign in to warung")
        term.type(password)
        term.keys("Enter")
        term.wait_for(r"SAB-0001 .*Rp 20\.500,00")
        term.wait_for(f"{username} \\(customer\\)  ● connected")
        term.keys("/")
        term.type("MIE-0016")
        term.keys("Enter")
        term.wait_for(r"MIE-0016 .*in stock")
        term.keys("a")
        term.wait_for(r"Cart 1 · Rp 3\.000,00")
        term.keys("F3")
        term.wait_for(r"1 item · Total Rp")
        term.wait_for(r"c Check out")  # the cart has the focus: its keys are in the footer
        term.keys("c")
        term.wait_for(r"Pay Rp")
        term.keys("Enter")
        term.wait_for("Thank you! Your order is placed and paid.")
        term.wait_for(r"Status: paid")
        term.keys("Escape", "C-q")
        term.wait_for("warung exited 0")
    finally:
        term.close()
    with shop.client() as client:
        client.login(username, password)
        orders = client.call("order.list")["items"]
    assert [(o["status"], o["lines"][0]["sku"]) for o in orders] == [("paid", "MIE-0016")]


def test_a_clerk_sells_two_items_for_cash_in_a_real_terminal(shop, home: Path):
    """Each key waits for what it acts on to be on the screen: a key sent before the focus
    gets there would be lost under load."""
    skus = ("MIE-0001", "KOP-0002")
    total = sum(product_by_sku(shop, sku)["price"] for sku in skus)
    money = Money("IDR", 2)
    argv = [*warung_command(), "--port", str(shop.port), "--user", "clerk"]
    term = Terminal(home, argv)
    try:
        term.wait_for("Sign in to warung")
        term.type(shop.passwords["clerk"])
        term.keys("Enter")
        term.wait_for(r"clerk \(clerk\)  ● connected")
        term.wait_for("Till closed: F8 opens it")  # the server said: no till open yet
        term.keys("F8")
        term.wait_for("Open the till")
        term.type("100000")  # the opening cash, focused first
        term.wait_for(r"Opening cash +100000")
        term.keys("BTab")
        term.wait_for_cursor("Station")
        term.keys("C-u")
        term.wait_for(r"Station +│")
        term.type("kasir-9")
        term.wait_for(r"Station +kasir-9")
        term.keys("Tab")
        term.wait_for_cursor("Opening cash")
        term.keys("Enter")
        term.wait_for(r"Till kasir-9 open · opened with Rp 100\.000,00")
        for items, sku in enumerate(skus, 1):
            term.type(sku)
            term.wait_for(f"(?m)^ {sku} *$")  # on the entry line, not yet on the ticket
            term.keys("Enter")
            term.wait_for(f"{items} items? · Total")
        term.keys("F5")
        term.wait_for("Cash handed over")
        term.type("50000")
        term.wait_for(re.escape(f"Change {money.format(5000000 - total)}"))
        term.keys("Enter")
        term.wait_for(re.escape(f"Total {money.format(total)}"))
        term.keys("Enter")
        sold = term.wait_for(r"Sold · order #(\d+)")
        term.wait_for("Change to give")
        term.wait_for(r"Till kasir-9 · clerk")
        term.wait_for(r"Change +" + re.escape(money.format(5000000 - total)))
        term.keys("C-q")  # quits from the receipt too
        term.wait_for("warung exited 0")
    finally:
        term.close()
    with shop.client("clerk") as client:
        order = client.call("order.get", order_id=int(sold.group(1)))
    assert (order["channel"], order["status"]) == ("pos", "completed")
    assert order["payment"]["method"] == "cash" and order["total"] == total
    assert [(line["sku"], line["qty"]) for line in order["lines"]] == [(sku, 1) for sku in skus]


def listening_port(log: str) -> int:
    """The port the demo server's `log` says it listens on."""
    found = re.search(r"listening on 127\.0\.0\.1:(\d+)", log)
    assert found is not None, log
    return int(found.group(1))


def test_demo_runs_its_own_shop_and_stops_it_on_exit(home: Path):
    term = Terminal(home, [*warung_command(), "--demo"], size=(80, 24))
    try:
        term.wait_for("customer \\(customer\\)  ● connected", timeout=60)
        term.wait_for(r"SAB-0001")
        log = (home / "data" / "warung" / "demo-server.log").read_text()
        port = listening_port(log)
        term.keys("C-q")
        term.wait_for("warung exited 0")
    finally:
        term.close()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()


def test_demo_says_it_is_starting_and_never_shows_the_sign_in_form(home: Path):
    term = Terminal(home, [*warung_command(), "--demo"], size=(80, 24))
    seen: list[str] = []
    try:
        deadline = time.monotonic() + 60
        while "SAB-0001" not in (screen := term.screen()):
            seen.append(screen)
            assert time.monotonic() < deadline, f"no catalog after 60 s:\n{screen}"
            time.sleep(0.02)
        seen.append(screen)
        assert any("Starting the demo shop" in frame for frame in seen)
        assert not any("Sign in to warung" in frame for frame in seen)
        term.keys("C-q")
        term.wait_for("warung exited 0")
    finally:
        term.close()


def test_two_demo_windows_share_one_server(home: Path):
    first = Terminal(home, [*warung_command(), "--demo"], size=(80, 24))
    second: Terminal | None = None
    try:
        first.wait_for(r"customer \(customer\)  ● connected", timeout=60)
        second = Terminal(home, [*warung_command(), "--demo"], size=(100, 30))
        second.wait_for(r"customer \(customer\)  ● connected", timeout=60)
        second.wait_for("Joined the demo shop")
        log = (home / "data" / "warung" / "demo-server.log").read_text()
        assert log.count("listening on") == 1
        port = listening_port(log)
        second.keys("C-q")
        second.wait_for("warung exited 0")
        socket.create_connection(("127.0.0.1", port), timeout=2).close()  # still serving
    finally:
        first.close()
        if second is not None:
            second.close()


def test_a_killed_server_is_said_in_the_terminal_and_ctrl_r_retries(fresh_shop, home: Path):
    server = fresh_shop
    argv = [*warung_command(), "--port", str(server.port), "--user", "customer"]
    term = Terminal(home, argv, size=(100, 30))
    try:
        term.wait_for("Sign in to warung")
        term.type(server.passwords["customer"])
        term.keys("Enter")
        term.wait_for(r"customer \(customer\)  ● connected")
        server.kill()
        term.wait_for("Lost the link to the shop")
        term.wait_for(r"◌ reconnecting in \d+s · \^R now")
        server.start(server.port)
        term.keys("C-r")
        term.wait_for(r"customer \(customer\)  ● connected")
        term.keys("C-q")
        term.wait_for("warung exited 0")
    finally:
        term.close()


def test_a_till_killed_offline_loses_no_sale_in_a_real_terminal(fresh_shop, home: Path):
    """`kill -9` while the receipt of an offline sale is on the screen: restarted, still
    offline, the till has both sales queued and numbers the next one after them; once the
    link is back the server has the three, each once, with the receipts the till showed."""
    proxy = CuttableProxy(fresh_shop.port)
    with fresh_shop.client("clerk") as clerk:  # a till open since before
        clerk.call("clerk.register.open", station="kasir-7", opening_cash=0)
    kept_clerk_session(fresh_shop, proxy.port, home)
    try:
        argv = [*warung_command(), "--port", str(proxy.port), "--receipt-prefix", "K7"]
        term = Terminal(home, argv, size=(80, 24))
        try:
            term.wait_for(r"Till kasir-7 open")
            sell_exact(term, "MIE-0001", r"Sold · order #\d+")  # the till sees the product
            proxy.down()
            term.wait_for("OFFLINE · cash only · 0 sales to send")
            sell_exact(term, "MIE-0001", r"Sold offline · receipt K7-000001")
            sell_exact(term, "MIE-0001", r"Sold offline · receipt K7-000002", then=None)
            kill_app(term)
        finally:
            term.close()
        term = Terminal(home, argv, size=(80, 24))
        try:
            term.wait_for("OFFLINE · cash only · 2 sales to send")
            sell_exact(term, "MIE-0001", r"Sold offline · receipt K7-000003")
            proxy.up()
            term.wait_for(r"Sent \d sales? rung up offline", timeout=30)
            wait_until(lambda: len(offline_receipts(fresh_shop)) == 3, 30, "all three sent")
            term.keys("C-q")
            term.wait_for("warung exited 0")
        finally:
            term.close()
    finally:
        proxy.close()
    assert sorted(offline_receipts(fresh_shop)) == ["K7-000001", "K7-000002", "K7-000003"]


def kept_clerk_session(server, port: int, home: Path) -> None:
    """The clerk signed in to `port` with *Stay signed in*, as an earlier run left it."""
    with server.client() as client:
        token = client.login("clerk", server.passwords["clerk"])["token"]
    folder = home / "config" / "warung"
    Settings(folder).remember(Target("127.0.0.1", port), "clerk")
    Settings(folder).keep_session(Target("127.0.0.1", port), "clerk", token)


def sell_exact(term: Terminal, sku: str, sold: str, then: str | None = "Enter") -> None:
    """One unit of `sku` for the exact cash, waiting for `sold` on the receipt; `then`:
    the key that leaves the receipt (None: it stays on the screen)."""
    term.wait_for(r"SKU, 3\*SKU or a name")  # the entry line empty, focused after a sale
    term.type(sku)
    term.wait_for(f"(?m)^ {sku} *$")
    term.keys("Enter")
    term.wait_for(r"1 item · Total")
    term.keys("F5")
    term.wait_for("Cash handed over")
    term.keys("Enter")
    term.wait_for("Sell for cash")
    term.keys("Enter")
    term.wait_for(sold)
    if then is not None:
        term.keys(then)
        term.wait_for(r"0 items · Total")


def kill_app(term: Terminal) -> None:
    """SIGKILL the `warung` process in the pane: no handler, no close, no goodbye."""
    shell = term.tmux("display-message", "-p", "#{pane_pid}").strip()
    [pid] = [p.parent.name for p in Path("/proc").glob("[0-9]*/stat") if _parent(p) == shell]
    os.kill(int(pid), signal.SIGKILL)
    term.wait_for("warung exited 137")


def _parent(stat: Path) -> str | None:
    """The parent's pid in /proc/<pid>/stat (after the command's parenthesised name)."""
    try:
        return stat.read_text().rsplit(")", 1)[1].split()[1]
    except (OSError, IndexError):
        return None


def offline_receipts(server) -> list[str]:
    with server.client("clerk") as client:
        orders = client.call("order.list", limit=100)["items"]
    return [o["receipt"] for o in orders if o["channel"] == "pos" and o["offline_at"]]
