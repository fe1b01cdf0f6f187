"""Start `warung-server` as a real process on a free port and talk to it over TCP."""

from __future__ import annotations

import asyncio
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

from protocol.client import AsyncClient, Client
from protocol.rules import DEMO_ACCOUNT_RE
from tests.e2e.raw import RawConnection

START_TIMEOUT_S = 60.0
LISTENING = re.compile(r"warung-server listening on ([\d.]+):(\d+)")
METRICS = re.compile(r"metrics on (http://\S+)")
# Commands that run the server, before its serve options: `warung-server serve`, and
# Twisted's runners with the plugin (twisted/plugins/warung_plugin.py), logging to stdout.
SERVE = (sys.executable, "-m", "server.cli", "serve")
TWIST = (str(Path(sys.executable).with_name("twist")), "--log-format", "text", "warung")
TWISTD = (str(Path(sys.executable).with_name("twistd")), "--nodaemon", "--pidfile=", "warung")


class ServerProcess:
    """One `warung-server serve` child (or another `command` taking its options).
    `passwords` holds the demo accounts it printed."""

    def __init__(
        self, db_url: str, *extra: str, cwd: Path | None = None, command: Sequence[str] = SERVE
    ) -> None:
        self.db_url = db_url
        self.extra = extra
        self.cwd = cwd
        self.command = command
        self.passwords: dict[str, str] = {}
        self.port = 0
        self.proc: subprocess.Popen[str] | None = None
        self.log: list[str] = []
        self.metrics_url: str | None = None

    def start(self, port: int = 0) -> ServerProcess:
        argv = [*self.command, "--db", self.db_url]
        argv += ["--host", "127.0.0.1", "--port", str(port), "--demo", *self.extra]
        self.proc = subprocess.Popen(
            argv,
            cwd=self.cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._pump, args=(self.proc, lines), daemon=True).start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                self.kill()
                raise RuntimeError("server did not start in time:\n" + "".join(self.log)) from None
            if line is None:
                raise RuntimeError("server exited:\n" + "".join(self.log))
            if found := DEMO_ACCOUNT_RE.search(line):
                self.passwords[found.group(1)] = found.group(2)
            if found := METRICS.search(line):
                self.metrics_url = found.group(1)
            if found := LISTENING.search(line):
                self.port = int(found.group(2))
                return self

    def _pump(self, proc: subprocess.Popen[str], lines: queue.Queue[str | None]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            self.log.append(line)
            lines.put(line)
        lines.put(None)

    def kill(self) -> None:
        """`kill -9`: no chance to clean up."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        stop_process(self.proc)

    def restart(self) -> ServerProcess:
        """Start again on the same port (so reconnecting clients find it)."""
        self.stop()
        return self.start(self.port)

    def metrics(self) -> dict[str, float]:
        """The server's Prometheus samples by name with labels (needs --metrics-port)."""
        assert self.metrics_url, "start the server with --metrics-port 0"
        text = urllib.request.urlopen(self.metrics_url, timeout=10).read().decode()
        return {
            line.rpartition(" ")[0]: float(line.rpartition(" ")[2])
            for line in text.splitlines()
            if line and not line.startswith("#")
        }

    def open_connections(self) -> int:
        """The server's open connections, in every state, from its metrics."""
        found = self.metrics()
        return int(sum(v for k, v in found.items() if k.startswith("warung_connections{")))

    def client(self, user: str | None = None, **options: Any) -> Client:
        client = Client("127.0.0.1", self.port, **options)
        client.connect()
        if user is not None:
            client.login(user, self.passwords[user])
        return client

    async def async_client(
        self, user: str | None = None, port: int | None = None, **options: Any
    ) -> AsyncClient:
        """`client` for asyncio code; `port` puts something (a proxy, another server) between."""
        client = AsyncClient("127.0.0.1", port or self.port, **options)
        await client.connect()
        if user is not None:
            await client.login(user, self.passwords[user])
        return client

    def raw(self, user: str | None = None) -> RawConnection:
        """A bare connection that has said hello (and signed in as `user`)."""
        conn = RawConnection(self.port)
        conn.hello()
        if user is not None:
            assert conn.call("auth.login", username=user, password=self.passwords[user])["ok"]
        return conn


class Servers:
    """The server processes of one test (or module): each starts on a fresh SQLite file
    under `where` unless given a `db_url`, and `stop()` (or leaving the `with`) stops them all.

    Servers on one database share its demo accounts: only the first prints their passwords.
    """

    def __init__(self, where: Path) -> None:
        self.where = where
        self.started: list[ServerProcess] = []

    def start(
        self,
        *extra: str,
        db_url: str | None = None,
        cwd: Path | None = None,
        port: int = 0,
        command: Sequence[str] = SERVE,
    ) -> ServerProcess:
        """Start a server; `cwd` is where it runs (`python -m` imports from there first: a
        copy of the code there is another version), `port` where it listens (0: a free one),
        `command` what runs it (SERVE, TWIST or TWISTD)."""
        url = db_url or f"sqlite:///{self.where / f'shop{len(self.started)}.db'}"
        server = ServerProcess(url, *extra, cwd=cwd, command=command)
        for sibling in self.started:
            if sibling.db_url == url:
                server.passwords = sibling.passwords
        self.started.append(server)
        return server.start(port)

    def stop(self) -> None:
        for server in self.started:
            server.stop()

    def __enter__(self) -> Servers:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def stop_process(proc: subprocess.Popen[str] | None, grace_s: float = 20.0) -> None:
    """Terminate `proc` if it still runs, and kill it if it has not ended `grace_s` later."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(grace_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


def wait_until(condition: Any, timeout: float = 10.0, what: str = "condition") -> Any:
    """Poll `condition()` until it returns something truthy, or fail after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.01)


async def wait_until_async(
    condition: Any,
    timeout: float = 10.0,
    what: str = "condition",
    pause: Callable[[float], Awaitable[object]] = asyncio.sleep,
) -> Any:
    """`wait_until` for asyncio code: the event loop runs on while `condition()` is polled,
    `await pause(seconds)` between polls (a Textual pilot passes `pilot.pause`)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await pause(0.01)


async def wait_while_running(
    work: asyncio.Future[Any], condition: Any, timeout: float = 10.0, what: str = "condition"
) -> Any:
    """`wait_until_async` while `work` (a task, a gather) runs: should `work` end first, its
    exception, or its ending early, fails the wait at once rather than at the timeout."""

    def unless_ended() -> Any:
        if work.done():
            work.result()
            raise AssertionError(f"the work ended before {what}")
        return condition()

    return await wait_until_async(unless_ended, timeout, what)
