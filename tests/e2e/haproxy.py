"""deploy/haproxy.cfg run for real in front of warung servers on loopback, and what a test
asks it (its runtime API, its Prometheus exporter) and the servers behind it.

Needs `haproxy` (Debian's package). Without it a test skips, unless CI=true: then it fails,
since .ci/run installs it.
"""

from __future__ import annotations

import csv
import os
import re
import shutil
import socket
import subprocess
import threading
import urllib.request
from pathlib import Path

import pytest

from tests.e2e.harness import ServerProcess, stop_process, wait_until
from tests.e2e.raw import RawConnection

CONFIG = Path(__file__).resolve().parents[2] / "deploy" / "haproxy.cfg"
# What docs/deploy.md tells operators to give each server behind the proxy: HAProxy's
# address, from which each connection opens with a PROXY header naming the client.
BEHIND_PROXY = ("--proxy-from", "127.0.0.1")
START_S = 15.0  # HAProxy up and every server passed its check (2 checks, 2 s apart)


def start_haproxy(where: Path, backends: dict[str, int]) -> tuple[HAProxy, int]:
    """deploy/haproxy.cfg on loopback in front of the servers on `backends`' ports (w1, w2),
    once it answers hello and every server has passed its check. Returns HAProxy and the
    port clients connect to."""
    front, monitoring = free_ports(2)
    rendered, admin = where / "haproxy.cfg", where / "admin.sock"
    ports = {"front": front, **backends, "monitoring": monitoring}
    rendered.write_text(render(CONFIG.read_text(), ports, admin))
    proxy = HAProxy(haproxy_binary(), rendered, admin, monitoring).start()
    try:
        wait_until(lambda: answers_hello(front, proxy), START_S, "HAProxy to answer hello")
        wait_until(
            lambda: proxy.servers_up() == set(backends),
            START_S,
            "every server to pass its health check",
        )
    except BaseException:
        proxy.stop()
        raise
    return proxy, front


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
        stop_process(self.proc, grace_s=10)


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
