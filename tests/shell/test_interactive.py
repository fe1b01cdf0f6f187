"""The interactive prompt's pieces: the toolbar line and the history file's place."""

from pathlib import Path
from types import SimpleNamespace

import pytest

from client_shell.interactive import toolbar_text
from client_shell.paths import history_file
from protocol.client import State


def test_toolbar_shows_server_state_user_and_pushes() -> None:
    client = SimpleNamespace(host="shop", port=7411, user={"username": "ani", "role": "clerk"})
    text = toolbar_text(client, State.RECONNECTING, 12)  # type: ignore[arg-type]
    assert text == " shop:7411 | reconnecting | ani (clerk) | pushes: 12 "
    client.user = None
    assert "| not signed in |" in toolbar_text(client, State.CONNECTED, 0)  # type: ignore[arg-type]


def test_history_under_xdg_data_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert history_file() == tmp_path / "warung" / "shell_history"
    monkeypatch.delenv("XDG_DATA_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert history_file() == tmp_path / ".local" / "share" / "warung" / "shell_history"
