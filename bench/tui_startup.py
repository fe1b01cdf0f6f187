"""How fast `warung` starts, measured as docs/tui.md states it: the real command in tmux at
80x24, from launch (or the key) until the text is on the screen, median of `--repeat` runs.

    python bench/tui_startup.py [--repeat 5]

Cases: `warung` to the sign-in screen; Enter on the sign-in form to the first catalog page;
`warung` with a kept session to the first catalog page; `warung --demo` to its first frame
(anything on the screen) and to the first catalog page (a fresh data dir each run: the
server creates the shop).
Needs tmux. Each run has its own config and data dirs; nothing of the user's is touched.
"""

from __future__ import annotations

import argparse
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from client_tui.connection import Target
from client_tui.demo import DEMO_USER, DemoServer
from client_tui.settings import Settings
from protocol.client import Client

SIGN_IN = "Sign in to warung"
CATALOG = "SAB-0001"  # the first product of the first catalog page
POLL_S = 0.005


class Tmux:
    """One tmux server of its own, with `warung` in an 80x24 window."""

    def __init__(self, home: Path, argv: list[str]) -> None:
        self.socket = f"warung-bench-{os.getpid()}-{time.monotonic_ns()}"
        env = {"XDG_CONFIG_HOME": str(home / "config"), "XDG_DATA_HOME": str(home / "data")}
        env["TERM"] = "xterm-256color"
        words = ["env", *(f"{k}={shlex.quote(v)}" for k, v in env.items()), *argv]
        self.started = time.monotonic()
        self.tmux("new-session", "-d", "-x", "80", "-y", "24", " ".join(words) + "; sleep 60")

    def tmux(self, *args: str) -> str:
        done = subprocess.run(
            ["tmux", "-L", self.socket, *args], capture_output=True, text=True, check=True
        )
        return done.stdout

    def wait_for(self, *texts: str, timeout: float = 60.0) -> float:
        """Seconds from launch until one of `texts` is on the screen ("": anything)."""
        deadline = time.monotonic() + timeout
        while not any(map(self._shows, texts)):
            if time.monotonic() > deadline:
                raise TimeoutError(f"none of {texts!r} on the screen after {timeout} s")
            time.sleep(POLL_S)
        return time.monotonic() - self.started

    def _shows(self, text: str) -> bool:
        screen = self.tmux("capture-pane", "-p")
        return text in screen if text else bool(screen.strip())

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True)


def warung() -> list[str]:
    script = Path(sys.executable).parent / "warung"
    return [str(script)] if script.exists() else [sys.executable, "-m", "client_tui"]


def to_sign_in(home: Path, target: Target) -> float:
    term = Tmux(home, [*warung(), "--port", str(target.port), "--user", DEMO_USER])
    try:
        return term.wait_for(SIGN_IN)
    finally:
        term.close()


def enter_to_catalog(home: Path, target: Target, password: str) -> float:
    term = Tmux(home, [*warung(), "--port", str(target.port), "--user", DEMO_USER])
    try:
        term.wait_for(SIGN_IN)
        term.tmux("send-keys", "-l", password)
        term.wait_for("•" * len(password))  # typed into the field before the clock starts
        term.started = time.monotonic()
        term.tmux("send-keys", "Enter")
        return term.wait_for(CATALOG)
    finally:
        term.close()


def kept_to_catalog(home: Path, target: Target, password: str) -> float:
    with Client(target.host, target.port) as client:
        token = client.login(DEMO_USER, password)["token"]
    os.environ["XDG_CONFIG_HOME"] = str(home / "config")
    settings = Settings()
    settings.remember(target, DEMO_USER)
    settings.keep_session(target, DEMO_USER, token)
    term = Tmux(home, warung())
    try:
        return term.wait_for(CATALOG)
    finally:
        term.close()


def demo(home: Path, *texts: str) -> float:
    term = Tmux(home, [*warung(), "--demo"])
    try:
        return term.wait_for(*texts)
    finally:
        term.close()


def median(runs: int, case: Callable[[Path], float]) -> tuple[float, list[float]]:
    times = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as home:
            times.append(case(Path(home)))
    return statistics.median(times), times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    runs = parser.parse_args().repeat
    with tempfile.TemporaryDirectory() as shop_dir:
        server = DemoServer(Path(shop_dir))
        shop = server.start()
        assert shop.password is not None
        target, password = Target(shop.host, shop.port), shop.password
        try:
            cases: list[tuple[str, Callable[[Path], float]]] = [
                ("warung to the sign-in screen", lambda h: to_sign_in(h, target)),
                ("Enter on the sign-in form to the first catalog page",
                 lambda h: enter_to_catalog(h, target, password)),
                ("warung with a kept session to the first catalog page",
                 lambda h: kept_to_catalog(h, target, password)),
                ("warung --demo to its first line (new shop)", lambda h: demo(h, "")),
                ("warung --demo to the app's first screen",
                 lambda h: demo(h, "Starting the demo shop…", SIGN_IN, CATALOG)),
                ("warung --demo to the first catalog page (new shop)", lambda h: demo(h, CATALOG)),
            ]  # fmt: skip
            for name, case in cases:
                middle, times = median(runs, case)
                each = " ".join(f"{t:.2f}" for t in times)
                print(f"{name:56} {middle:5.2f} s   ({each})", flush=True)
        finally:
            server.stop()


if __name__ == "__main__":
    main()
