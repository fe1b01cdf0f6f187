"""The interactive prompt's pieces: the toolbar line and the history file's place."""

from pathlib import Path
from types import SimpleNamespace

import pytest

from client_shell.history import MAX_LINE, ShellHistory
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


def test_the_history_is_its_owners_alone_and_keeps_no_over_long_line(tmp_path: Path) -> None:
    path = tmp_path / "warung" / "shell_history"
    path.parent.mkdir()
    path.write_text(f"\n+{'y' * (MAX_LINE + 1)}\n")  # one from before the limit
    path.chmod(0o644)
    history = ShellHistory(path)
    assert path.stat().st_mode & 0o777 == 0o600
    history.store_string("x" * (MAX_LINE + 1))
    history.store_string("ping")
    assert list(ShellHistory(path).load_history_strings()) == ["ping"]
