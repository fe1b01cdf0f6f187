"""`warung-server serve` that cannot start says why and exits non-zero, leaving nothing behind."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

from db.migrations import LATEST
from tests.e2e.shopdb import init_demo


def test_a_taken_port_is_a_clear_failure_with_exit_code_1(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    init_demo(url)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "server.cli", "serve", "--db", url, "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 1
    assert "cannot start" in done.stderr
    assert "Address already in use" in done.stderr or "address already in use" in done.stderr


def test_serve_says_when_it_creates_or_upgrades_the_schema_and_only_then(servers) -> None:
    """The first server of a new version migrates the shared database: its log says so,
    and a start on a database already current says nothing of the schema."""
    server = servers.start()
    assert sum(f"created the schema (version {LATEST})" in line for line in server.log) == 1
    server.restart()
    assert not [line for line in server.log if "the schema" in line][1:]
