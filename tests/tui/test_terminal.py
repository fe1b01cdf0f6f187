"""`warung` in a real terminal (tmux): sign in, add a product, check out; and `--demo`.

Skipped where tmux is missing; `.ci/run` installs it, so CI always runs these.
"""

from __future__ import annotations

import re
import shlex
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(
    shutil.which("tmux") is None, reason="tmux is not installed (CI installs it in .ci/run)"
)


def warung_command() -> list[str]:
    """The `warung` console script of this environment (else the same, as a module)."""
    script = Path(sys.executable).parent / "warung"
    return [str(script)] if script.exists() else [sys.executable, "-m", "client_tui"]


class Terminal:
    """One tmux session on a private server socket, so no user session is touched."""

    def __init__(self, home: Path, argv: list[str], size: tuple[int, int] = (100, 30)) -> None:
        self.socket = f"warung-test-{time.monotonic_ns()}"
        env = {
            "XDG_CONFIG_HOME": str(home / "config"),
            "XDG_DATA_HOME": str(home / "data"),
            "TERM": "xterm-256color",
        }
        command = " ".join(
            ["env", *(f"{k}={shlex.quote(v)}" for k, v in env.items()), *map(shlex.quote, argv)]
        )
        self.tmux(
            "new-session", "-d", "-x", str(size[0]), "-y", str(size[1]),
            f"{command}; echo warung exited $?; sleep 60",
        )  # fmt: skip

    def tmux(self, *args: str) -> str:
        done = subprocess.run(
            ["tmux", "-L", self.socket, *args], capture_output=True, text=True, check=True
        )
        return done.stdout

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p")

    def keys(self, *keys: str) -> None:
        self.tmux("send-keys", *keys)

    def type(self, text: str) -> None:
        self.tmux("send-keys", "-l", text)

    def wait_for(self, pattern: str, timeout: float = 15.0) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if found := re.search(pattern, screen):
                return found
            if time.monotonic() > deadline:
                raise AssertionError(f"no {pattern!r} on the screen after {timeout} s:\n{screen}")
            time.sleep(0.05)

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True)


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


def test_demo_runs_its_own_shop_and_stops_it_on_exit(home: Path):
    term = Terminal(home, [*warung_command(), "--demo"], size=(80, 24))
    try:
        term.wait_for("customer \\(customer\\)  ● connected", timeout=60)
        term.wait_for(r"SAB-0001")
        log = (home / "data" / "warung" / "demo-server.log").read_text()
        port = int(re.search(r"listening on 127\.0\.0\.1:(\d+)", log).group(1))
        term.keys("C-q")
        term.wait_for("warung exited 0")
    finally:
        term.close()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
