"""`warung web` as a real process on a free port, for the browser tests and bench/web_tabs.py."""

from __future__ import annotations

import os
import queue
import re
import subprocess
import sys
import threading
import time

from tests.e2e.harness import stop_process

START_TIMEOUT_S = 30.0
OPEN = re.compile(r"warung web: open (https?://\S+) in a browser \((?:served on (\S+), )?")


class WebProcess:
    """`warung web --port 0 --server 127.0.0.1:<shop_port>`: `url` is the one it printed
    to open, `local` where it listens (the same, unless `--public-url` names another)."""

    def __init__(self, shop_port: int, *extra: str) -> None:
        argv = [sys.executable, "-m", "client_tui", "web", "--port", "0"]
        argv += ["--server", f"127.0.0.1:{shop_port}", *extra]
        self.log: list[str] = []
        self.proc = subprocess.Popen(
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self.url, self.local = self._wait_for_url()

    def _wait_for_url(self) -> tuple[str, str]:
        lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._pump, args=(lines,), daemon=True).start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                self.stop()
                raise RuntimeError("warung web did not start:\n" + "".join(self.log)) from None
            if line is None:
                raise RuntimeError("warung web exited:\n" + "".join(self.log))
            if found := OPEN.search(line):
                return found.group(1), found.group(2) or found.group(1)

    def _pump(self, lines: queue.Queue[str | None]) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.log.append(line)
            lines.put(line)
        lines.put(None)

    def stop(self) -> None:
        stop_process(self.proc)
