"""`warung-shell` in a real terminal (tmux): a paste too long for a line is refused at once,
Ctrl-C while a call waits gives the prompt back, a link that stops answering is said lost
and then back, and the history file is its owner's alone.

Skipped where tmux is missing; `.ci/run` installs it, so CI always runs these.
"""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path

import pytest

from client_shell.history import MAX_LINE
from tests.e2e.proxy import CuttableProxy
from tests.terminal import Terminal

pytestmark = pytest.mark.skipif(
    shutil.which("tmux") is None, reason="tmux is not installed (CI installs it in .ci/run)"
)


def test_a_long_paste_ctrl_c_on_a_waiting_call_and_a_silent_link(servers, tmp_path: Path) -> None:
    server = servers.start("--limit", "heartbeat_s=3")
    proxy = CuttableProxy(server.port)
    argv = [sys.executable, "-m", "client_shell.cli", "--port", str(proxy.port)]
    term = Terminal(tmp_path, argv, size=(200, 20))
    try:
        term.wait_for("warung>")
        term.type("\\login customer")
        term.keys("Enter")
        term.wait_for("password:")
        term.type(server.passwords["customer"])
        term.keys("Enter")
        term.wait_for(r"\| customer \(customer\) \|")

        term.paste("catalog.list query=" + "y" * 2 * MAX_LINE)
        term.wait_for("not pasted, 20,019 characters: a line holds at most 10,000")
        term.type("ping")
        term.keys("Enter")
        term.wait_for('"time": ')

        proxy.hang()  # the server answers nothing from now on, the link stays open
        term.type("cart.get")
        term.keys("Enter")
        term.wait_for(r"warung> cart\.get\s*\n(?!.*warung>)", timeout=2)
        interrupt(term, "interrupted: the answer, if one comes, is not shown")
        term.wait_for("link lost: reconnecting by itself")  # an unanswered heartbeat
        term.wait_for("link back, signed in again as customer")

        proxy.hang()  # and Ctrl-C while a line that asked for a password waits
        term.type("\\login clerk")
        term.keys("Enter")
        term.wait_for(r"login clerk\s*\npassword:")
        term.type(server.passwords["clerk"])
        term.keys("Enter")
        term.wait_for(r"login clerk\s*\npassword: \*+\s*\n(?!.*warung>)", timeout=2)
        interrupt(term, r"login clerk\s*\npassword: \*+\s*\n\^?C?interrupted: the answer")
        term.type("\\quit")
        term.keys("Enter")
        term.wait_for("warung exited 0")
    finally:
        term.close()
        proxy.close()
    history = tmp_path / "data" / "warung" / "shell_history"
    assert history.stat().st_mode & 0o777 == 0o600
    assert "cart.get" in history.read_text()


def interrupt(term: Terminal, said: str, timeout: float = 15.0) -> None:
    """Ctrl-C until `said` shows: one pressed in the instant between the line leaving the
    prompt and the call's handler taking the signal goes to the prompt instead (a person
    presses again), and a loaded machine can stretch that instant."""
    deadline = time.monotonic() + timeout
    while True:
        term.keys("C-c")
        try:
            term.wait_for(said, timeout=1.0)
            return
        except AssertionError:
            if time.monotonic() > deadline:
                raise
