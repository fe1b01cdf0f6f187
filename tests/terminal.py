"""A program in a real terminal: a tmux session on a server socket of its own, the screen
read back as text, keys sent as a user types them."""

from __future__ import annotations

import re
import shlex
import subprocess
import time
from pathlib import Path


class Terminal:
    """One tmux session on a private server socket, so no user session is touched."""

    def __init__(
        self,
        home: Path,
        argv: list[str],
        size: tuple[int, int] = (100, 30),
        env: dict[str, str] | None = None,
    ) -> None:
        self.socket = f"warung-test-{time.monotonic_ns()}"
        env = {
            "XDG_CONFIG_HOME": str(home / "config"),
            "XDG_DATA_HOME": str(home / "data"),
            "TERM": "xterm-256color",
            **(env or {}),
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
        """Type `text` as it is; `--` ends tmux's options (a password may begin with `-`)."""
        self.tmux("send-keys", "-l", "--", text)

    def paste(self, text: str) -> None:
        """Paste `text` as a terminal does, marked as a paste where the program asked for
        that (bracketed paste)."""
        subprocess.run(
            ["tmux", "-L", self.socket, "load-buffer", "-"], input=text, text=True, check=True
        )
        self.tmux("paste-buffer", "-p")

    def wait_for(self, pattern: str, timeout: float = 15.0) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if found := re.search(pattern, screen):
                return found
            if time.monotonic() > deadline:
                raise AssertionError(f"no {pattern!r} on the screen after {timeout} s:\n{screen}")
            time.sleep(0.05)

    def wait_for_cursor(self, pattern: str, timeout: float = 15.0) -> None:
        """Wait until the terminal's cursor is on a line matching `pattern`: the app puts it
        in the focused field, so this is how a test sees where the focus is."""
        deadline = time.monotonic() + timeout
        while True:
            row = int(self.tmux("display-message", "-p", "#{cursor_y}"))
            line = self.screen().splitlines()[row:][:1]
            if line and re.search(pattern, line[0]):
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"the cursor is not on {pattern!r} after {timeout} s")
            time.sleep(0.05)

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True)
