"""The shell core with a stand-in client: built-ins, routing and exit statuses."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from client_shell.shell import ERROR, OK, USAGE, Quit, Shell
from protocol.client import ConnectionLost, Push, State
from protocol.errors import NotFound


class FakeClient:
    """Records calls; `answers` maps an op to its result or the exception it raises."""

    def __init__(self, answers: dict[str, Any] | None = None) -> None:
        self.answers = answers or {}
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.callbacks: list[Callable[[Push], Any]] = []
        self.hello: dict[str, Any] = {}
        self.state = State.CONNECTED
        self.next_retry_s: float | None = None

    def on_event(self, callback: Callable[[Push], Any]) -> Callable[[], None]:
        self.callbacks.append(callback)
        return lambda: None

    def on_state(self, callback: Callable[[Any], Any]) -> Callable[[], None]:
        return lambda: None

    async def call(self, op: str, args: dict[str, Any]) -> dict[str, Any]:
        self.calls.append((op, args))
        answer = self.answers.get(op, {})
        if isinstance(answer, Exception):
            raise answer
        return answer

    async def login(self, username: str, password: str, **second: str) -> dict[str, Any]:
        self.calls.append(("login", {"username": username, "password": password, **second}))
        return {"user": {"username": username}}


def make(client: FakeClient) -> tuple[Shell, list[str], list[str]]:
    out: list[str] = []
    err: list[str] = []

    async def no_password(prompt: str) -> str:
        raise AssertionError("the password comes from the environment")

    return Shell(client, out.append, err.append, no_password), out, err  # type: ignore[arg-type]


def run(shell: Shell, line: str) -> int:
    return asyncio.run(shell.run_line(line))


def test_login_uses_the_sdk_and_the_env_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WARUNG_PASSWORD", "s3cret")
    client = FakeClient()
    shell, out, _ = make(client)
    assert run(shell, "\\login kasir") == OK
    assert client.calls == [("login", {"username": "kasir", "password": "s3cret"})]
    assert '"username": "kasir"' in out[0]


def test_error_answer_goes_to_warn() -> None:
    shell, out, err = make(FakeClient({"order.get": NotFound("no order 5")}))
    assert run(shell, "order.get order_id=5") == ERROR
    assert (out, err) == ([], ["error not_found: no order 5"])


def test_events_on_prints_pushes_and_counts_always() -> None:
    client = FakeClient()
    shell, out, _ = make(client)
    client.callbacks[0](Push("stock", 1, {"stock": 3}))
    assert (shell.pushes, out) == (1, [])
    assert run(shell, "\\events on") == OK
    client.callbacks[0](Push("stock", 2, {"stock": 2}))
    assert out == ['event stock #2: {"stock": 2}']
    assert run(shell, "\\events off") == OK
    client.callbacks[0](Push("stock", 3, {"stock": 1}))
    assert shell.pushes == 3 and len(out) == 1


def test_a_login_with_a_recovery_code_goes_through_the_sdk() -> None:
    client = FakeClient()
    shell, _, _ = make(client)
    line = "auth.login username=kasir password=pw recovery_code=AAAA-BBBB-CCCC-DDDD-EEEE-FFFF"
    assert run(shell, line) == OK
    assert client.calls == [
        (
            "login",
            {
                "username": "kasir",
                "password": "pw",
                "recovery_code": "AAAA-BBBB-CCCC-DDDD-EEEE-FFFF",
            },
        )
    ]


def test_an_ended_session_is_said_with_events_off() -> None:
    client = FakeClient()
    _, out, err = make(client)
    client.callbacks[0](Push("session.ended", 4, {"reason": "disabled"}))
    assert out == []
    assert err == ["signed out: the session ended (disabled); \\login USER signs in again"]


def test_a_call_with_no_link_says_it_was_not_sent() -> None:
    client = FakeClient({"cart.get": ConnectionLost("cart.get", sent=False)})
    shell, _, err = make(client)
    assert run(shell, "cart.get") == ERROR
    assert err == ["error connection: not connected: cart.get was not sent"]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("\\events maybe", "usage: \\events on|off"),
        ("\\login", "usage: \\login USER"),
        ("\\help no.such", "no op 'no.such' (\\help lists them)"),
        ("\\frobnicate", "unknown command \\frobnicate (\\help lists them)"),
    ],
)
def test_misused_builtins_are_usage_errors(line: str, message: str) -> None:
    shell, _, err = make(FakeClient())
    assert run(shell, line) == USAGE
    assert err == [message]


def test_quit_raises() -> None:
    shell, _, _ = make(FakeClient())
    with pytest.raises(Quit):
        run(shell, "\\quit")


def test_help_lists_and_explains_only_the_ops_the_server_offers() -> None:
    client = FakeClient()
    client.hello = {"ops": ["cart.add", "hello", "ping"]}
    shell, out, err = make(client)
    assert run(shell, "\\help") == OK
    listed = out[0].split("shell commands:")[0].splitlines()[1:]
    assert [line.split()[0] for line in listed] == ["cart.add", "hello", "ping"]
    assert run(shell, "\\help cart.get") == ERROR
    assert err == ["cart.get is not offered by this server (\\help lists those it is)"]
    assert run(shell, "\\help cart.add") == OK
