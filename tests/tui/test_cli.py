"""The `warung` command line and its demo shop."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from client_tui.cli import build_parser, choose_target, main
from client_tui.connection import Target
from client_tui.demo import DemoServer
from protocol.client import Client


@pytest.mark.parametrize(
    ("argv", "last", "expected"),
    [
        ([], None, Target("127.0.0.1", 7411)),
        ([], Target("shop", 9000, tls=True), Target("shop", 9000, tls=True)),
        (["--port", "8000"], Target("shop", 9000), Target("shop", 8000)),
        (["--host", "other"], Target("shop", 9000, tls=True), Target("other", 7411)),
        (["--host", "other", "--tls"], None, Target("other", 7411, tls=True)),
        (["--tls-ca", "ca.pem"], None, Target("127.0.0.1", 7411, True, "ca.pem")),
    ],
)
def test_the_server_comes_from_the_options_else_the_last_one(argv, last, expected):
    assert choose_target(build_parser().parse_args(argv), last) == expected


def test_a_bad_port_is_a_usage_error(capsys):
    assert main(["--port", "70000"]) == 2
    assert "--port" in capsys.readouterr().err


def test_the_demo_shop_keeps_its_customer_password_for_later_runs(tmp_path: Path):
    folder = tmp_path / "demo"
    server = DemoServer(folder)
    try:
        first = server.start()
    finally:
        server.stop()
    assert first.password
    assert stat.S_IMODE((folder / "demo-customer-password").stat().st_mode) == 0o600
    assert "listening" in (folder / "demo-server.log").read_text()

    server = DemoServer(folder)
    try:
        again = server.start()  # this time the server prints no passwords
        assert again.password == first.password
        with Client(again.host, again.port) as client:
            assert client.login("customer", again.password)["user"]["role"] == "customer"
    finally:
        server.stop()


def test_a_second_demo_joins_the_running_server_instead_of_starting_one(tmp_path: Path):
    folder = tmp_path / "demo"
    first, second = DemoServer(folder), DemoServer(folder)
    try:
        shop = first.start()
        joined = second.start()
        assert (joined.host, joined.port, joined.password) == (shop.host, shop.port, shop.password)
        assert (shop.owner_pid, joined.owner_pid) == (None, os.getpid())
        second.stop()  # the joiner leaves: the server runs on for the window that started it
        assert joined.password is not None
        with Client(joined.host, joined.port) as client:
            assert client.login("customer", joined.password)["user"]["role"] == "customer"
    finally:
        second.stop()
        first.stop()
    log = (folder / "demo-server.log").read_text()
    assert log.count("listening on") == 1  # one server for the two
    third = DemoServer(folder)  # its owner gone, the next --demo runs its own again
    try:
        assert third.start().owner_pid is None
    finally:
        third.stop()
