"""`warung-server serve --config FILE` and `warung-server config check`, run as an admin runs
them: a file value and a variable reaching a running server, and a bad file refused."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from protocol.client import Client
from tests.e2e.harness import ServerProcess
from tests.e2e.shopdb import init_demo

CONFIG = """\
# the harness's --port 0 beats this: port 1 would not start
port = 1
metrics_port = 0

[limit]
max_in_flight = 7
burst = 900
"""


def cli(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("WARUNG_")}
    return subprocess.run(
        [sys.executable, "-m", "server.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=environ | env,
        timeout=60,
    )


def test_serve_takes_values_from_the_file_and_overrides_from_env_and_flags(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    (tmp_path / "warung.toml").write_text(CONFIG)
    monkeypatch.setenv("WARUNG_LIMIT", "burst=901")
    server = ServerProcess(
        f"sqlite:///{tmp_path / 'shop.db'}", "--config", "warung.toml", cwd=tmp_path
    )
    try:
        server.start()
        client = Client("127.0.0.1", server.port)
        hello = client.connect()
        client.close()
        assert server.port not in (0, 1)  # flag over file
        assert server.metrics_url is not None, "metrics_port from the file"
        assert server.metrics()  # ... and it answers
        assert hello["limits"]["max_in_flight"] == 7  # file
        assert hello["limits"]["burst"] == 901  # env over file
    finally:
        server.stop()


def test_config_check_prints_each_key_its_value_and_where_it_came_from(tmp_path: Path):
    (tmp_path / "warung.toml").write_text(
        'db = "postgresql://shop:hunter22@db.internal/warung"\nport = 7500\n[limit]\nburst = 9\n'
    )

    done = cli(
        "config",
        "check",
        "--limit",
        "rate_per_s=5",
        cwd=tmp_path,
        WARUNG_CONFIG="warung.toml",
        WARUNG_PORT="7600",
        WARUNG_PROT="1",
    )

    assert done.returncode == 0, done.stderr
    lines = {line.split()[0]: line.split()[1:] for line in done.stdout.splitlines()}
    assert lines["config"] == ['"warung.toml"', "env", "WARUNG_CONFIG"]
    assert lines["db"] == ['"postgresql://shop:***@db.internal/warung"', "file", "warung.toml"]
    assert lines["port"] == ["7600", "env", "WARUNG_PORT"]
    assert lines["limit.burst"] == ["9", "file", "warung.toml"]
    assert lines["limit.rate_per_s"] == ["5", "flag", "--limit"]
    assert lines["host"] == ['"127.0.0.1"', "default"]
    assert "hunter22" not in done.stdout + done.stderr
    assert "warning: ignoring $WARUNG_PROT: no option has that name" in done.stderr


def test_config_check_shows_the_database_used_when_none_is_given(tmp_path: Path):
    done = cli("config", "check", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert re.search(r'\ndb +"sqlite:///warung\.db" +default\n', done.stdout), done.stdout
    assert done.stderr == ""


def test_a_bad_file_makes_config_check_and_serve_fail_naming_the_key(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    init_demo(url)
    (tmp_path / "bad.toml").write_text('host = "127.0.0.1"\n\n[limit]\nmax_inflight = 8\n')
    expected = "warung-server: bad.toml:4: limit.max_inflight: unknown limit 'max_inflight'"

    checked = cli("config", "check", "--config", "bad.toml", cwd=tmp_path)
    served = cli("serve", "--db", url, "--port", "0", "--config", "bad.toml", cwd=tmp_path)

    for done in (checked, served):
        assert done.returncode == 2
        assert done.stderr.startswith(expected), done.stderr
        assert done.stdout == ""
        assert "Traceback" not in done.stderr


def test_malformed_toml_names_the_line_and_its_key(tmp_path: Path):
    (tmp_path / "bad.toml").write_text('host = "127.0.0.1"\nport = 74 11\n')
    done = cli("config", "check", "--config", "bad.toml", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.startswith("warung-server: bad.toml:2: port: not valid TOML: ")


def test_limits_and_a_delay_that_would_stop_the_server_working_are_refused(tmp_path: Path):
    """As found in a walk-through: each was listed by config check, and served with."""
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    expected = "argument --limit: limit heartbeat_s needs a number of 1 or more, not '0'"

    checked = cli("config", "check", "--limit", "heartbeat_s=0", cwd=tmp_path)
    served = cli("serve", "--db", url, "--port", "0", "--limit", "heartbeat_s=0", cwd=tmp_path)
    from_env = cli(
        "config",
        "check",
        cwd=tmp_path,
        WARUNG_LIMIT="max_connections=0,max_in_flight=0",
        WARUNG_PAYMENT_DELAY="-5",
    )

    for done in (checked, served):
        assert done.returncode == 2
        assert expected in done.stderr, done.stderr
        assert done.stdout == ""
    assert from_env.returncode == 2 and from_env.stdout == ""
    assert from_env.stderr.splitlines() == [
        "warung-server: $WARUNG_LIMIT (limit.max_connections): limit max_connections needs a "
        "number of 1 or more, not '0'",
        "warung-server: $WARUNG_LIMIT (limit.max_in_flight): limit max_in_flight needs a "
        "number of 1 or more, not '0'",
        "warung-server: $WARUNG_PAYMENT_DELAY (payment_delay): '-5' is not a number of seconds "
        "(0 or more)",
    ]
