"""`warung --demo`: a demo shop server of the user's own, run as a child process.

The shop lives in the user's data dir (`demo.db`). The server prints the demo accounts'
passwords only when it creates them, on the first run; the customer's is kept next to the
database (mode 0600) so later runs can sign in too. The server's output goes to
`demo-server.log` there. The child is stopped when the app ends (and, on Linux, killed by
the kernel if the app dies without a chance to stop it).
"""

from __future__ import annotations

import ctypes
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from client_tui.paths import data_dir, write_private
from protocol.rules import DEMO_ACCOUNT_RE

START_TIMEOUT_S = 60.0
LISTENING = re.compile(r"warung-server listening on (\S+):(\d+)")
DEMO_USER = "customer"


class DemoError(Exception):
    """The demo server could not be started."""


@dataclass(frozen=True)
class DemoShop:
    host: str
    port: int
    password: str | None  # None: the password of an existing demo shop was not kept


class DemoServer:
    def __init__(self, folder: Path | None = None) -> None:
        self.folder = folder or data_dir()
        self.db_path = self.folder / "demo.db"
        self.password_path = self.folder / "demo-customer-password"
        self.log_path = self.folder / "demo-server.log"
        self._proc: subprocess.Popen[str] | None = None

    def start(self, timeout: float = START_TIMEOUT_S) -> DemoShop:
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        argv = [sys.executable, "-m", "server.cli", "serve", "--db", f"sqlite:///{self.db_path}"]
        argv += ["--host", "127.0.0.1", "--port", "0", "--demo"]
        log = self.log_path.open("a", encoding="utf-8")
        try:
            self._proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
                preexec_fn=_die_with_parent if sys.platform == "linux" else None,
            )
        except OSError as exc:
            log.close()
            raise DemoError(f"cannot start the demo server: {exc}") from exc
        lines: queue.Queue[str | None] = queue.Queue()
        assert self._proc.stdout is not None
        threading.Thread(target=_pump, args=(self._proc.stdout, lines, log), daemon=True).start()
        return self._wait_listening(lines, time.monotonic() + timeout)

    def _wait_listening(self, lines: queue.Queue[str | None], deadline: float) -> DemoShop:
        passwords: dict[str, str] = {}
        while True:
            try:
                line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                self.stop()
                raise DemoError(f"the demo server did not start; see {self.log_path}") from None
            if line is None:
                raise DemoError(f"the demo server stopped; see {self.log_path}")
            if found := DEMO_ACCOUNT_RE.search(line):
                passwords[found.group(1)] = found.group(2)
            if found := LISTENING.search(line):
                return DemoShop(found.group(1), int(found.group(2)), self._password(passwords))

    def _password(self, printed: dict[str, str]) -> str | None:
        if DEMO_USER in printed:
            write_private(self.password_path, printed[DEMO_USER] + "\n")
            return printed[DEMO_USER]
        try:
            return self.password_path.read_text(encoding="utf-8").strip() or None
        except OSError:
            return None

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def _pump(stream: IO[str], lines: queue.Queue[str | None], log: IO[str]) -> None:
    """Hand the child's output lines to the starter, and copy them to the log."""
    with log:
        for line in stream:
            log.write(line)
            log.flush()
            lines.put(line)
    lines.put(None)


def _die_with_parent() -> None:
    """In the child, before exec: ask Linux to send SIGTERM when the parent dies."""
    pr_set_pdeathsig = 1
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(pr_set_pdeathsig, signal.SIGTERM)
