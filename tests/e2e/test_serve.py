"""`warung-server serve` that cannot start says why and exits non-zero, leaving nothing behind."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

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
