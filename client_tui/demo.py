"""`warung --demo`: a demo shop server of the user's own, run as a child process.

The shop lives in the user's data dir (`demo.db`). The server prints the demo accounts'
passwords only when it creates them, on the first run; the customer's is kept next to the
database (mode 0600) so later runs can sign in too. The server's output goes to
`demo-server.log` there. The child is stopped when the app ends (and, on Linux, killed by
the kernel if the app dies without a chance to stop it).

One demo server per data dir: the `warung` that starts it holds `demo.lock` (an advisory
lock the system drops when that process ends, however it ends) and writes the address to
`demo-server.json`. A second `warung --demo` finds the lock taken and joins that server
instead of starting another on the same database; it stops with the window that started it.
"""

from __future__ import annotations

import ctypes
import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

if sys.platform != "win32":
    import fcntl

from client_tui.paths import data_dir, write_private
from protocol.rules import DEMO_ACCOUNT_RE

START_TIMEOUT_S = 60.0
LISTENING = re.compile(r"warung-server listening on (\S+):(\d+)")
DEMO_USER = "customer"
JOIN_POLL_S = 0.05  # how often a second window looks for the first one's address


class DemoError(Exception):
    """The demo server could not be started."""


@dataclass(frozen=True)
class DemoShop:
    host: str
    port: int
    password: str | None  # None: the password of an existing demo shop was not kept
    owner_pid: int | None = None  # set when joined: the warung that runs the server


class DemoServer:
    def __init__(self, folder: Path | None = None) -> None:
        self.folder = folder or data_dir()
        self.db_path = self.folder / "demo.db"
        self.password_path = self.folder / "demo-customer-password"
        self.log_path = self.folder / "demo-server.log"
        self.lock_path = self.folder / "demo.lock"
        self.address_path = self.folder / "demo-server.json"
        self._proc: subprocess.Popen[str] | None = None
        self._lock: IO[str] | None = None
        self._lines: queue.Queue[str | None] | None = None  # the server's output, if ours
        self._failed: DemoError | None = None
        self._deadline = 0.0

    def start(self, timeout: float = START_TIMEOUT_S) -> DemoShop:
        """Start the demo server, or join the one another `warung --demo` runs here."""
        self.begin(timeout)
        return self.finish()

    def begin(self, timeout: float = START_TIMEOUT_S) -> None:
        """Take the demo (or find another window has) and launch the server. Quick; call it
        from the thread that lives as long as the app: on Linux the child is stopped when
        the thread that started it ends."""
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._deadline = time.monotonic() + timeout
        if self._take_lock():
            try:
                self._lines = self._launch()
            except DemoError as error:
                self._failed = error

    def finish(self) -> DemoShop:
        """Wait until our server listens, or the joined one answers (blocks: run it in a
        thread). Raises DemoError when it does not in time."""
        if self._failed is not None:
            raise self._failed
        if self._lines is None:
            return self._join(self._deadline)
        shop = self._wait_listening(self._lines, self._deadline)
        write_private(
            self.address_path,
            json.dumps({"host": shop.host, "port": shop.port, "pid": os.getpid()}) + "\n",
        )
        return shop

    def _take_lock(self) -> bool:
        """True when this process now runs the demo (no other `warung --demo` does)."""
        if sys.platform == "win32":
            return True  # no advisory locks there: every window starts its own server
        lock = self.lock_path.open("a", encoding="utf-8")
        try:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            return False
        self._lock = lock
        return True

    def _join(self, deadline: float) -> DemoShop:
        """The running demo server, once its owner has written where it listens."""
        while True:
            found = self._running()
            if found is not None:
                host, port, pid = found
                return DemoShop(host, port, self._password({}), owner_pid=pid)
            if time.monotonic() > deadline:
                raise DemoError(
                    f"another warung --demo holds {self.lock_path} but its server does not "
                    "answer: quit that window (or wait for it to start) and try again"
                )
            time.sleep(JOIN_POLL_S)

    def _running(self) -> tuple[str, int, int] | None:
        """(host, port, owner pid) of the demo server when it answers there, else None."""
        try:
            found = json.loads(self.address_path.read_text(encoding="utf-8"))
            host, port, pid = str(found["host"]), int(found["port"]), int(found["pid"])
        except (OSError, ValueError, KeyError, TypeError):
            return None
        try:
            socket.create_connection((host, port), timeout=1.0).close()
        except OSError:
            return None
        return host, port, pid

    def _launch(self) -> queue.Queue[str | None]:
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
        return lines

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
        """Stop the server this process started (a joined one is its owner's to stop)."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        if self._lock is not None:
            self.address_path.unlink(missing_ok=True)
            self._lock.close()  # the next `warung --demo` starts its own
            self._lock = None


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
