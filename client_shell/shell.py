"""The shell's core: runs one parsed line against the SDK client and prints the outcome.

Shared by `-c` and the interactive prompt; each line ends in an exit status (0 done,
1 the server or the link said no, 2 the line itself is wrong) so `-c` can exit with it.
"""

from __future__ import annotations

import asyncio
import difflib
import getpass
import os
import shutil
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from client_shell.helptext import op_help, ops_overview
from client_shell.offered import offered_ops
from client_shell.parse import Builtin, OpCall, ParseError, parse_line, with_timestamps
from client_shell.render import render_error, render_push, render_value
from protocol.client import AsyncClient, ConnectionLost, Push, State
from protocol.client.link import SESSION_ENDED_EVENT
from protocol.errors import Unauthenticated, WarungError
from protocol.ops import REGISTRY, Op

OK, ERROR, USAGE = 0, 1, 2
PASSWORD_ENV = "WARUNG_PASSWORD"
UNBROKEN = 10_000  # columns: wider than any help line
LOGIN_ARGS = {"username", "password", "totp", "recovery_code"}  # `AsyncClient.login`'s

PasswordReader = Callable[[str], Awaitable[str]]
FAILURES = (WarungError, ConnectionLost, TimeoutError, OSError)  # a call's, said by `_failed`


async def read_password_tty(prompt: str) -> str:
    """Read a password without echo; without a terminal, one line of stdin (for scripts).

    In a thread, so the SDK's heartbeat keeps the link while the user types.
    """
    if not sys.stdin.isatty():
        line = sys.stdin.readline()
        if not line:
            raise EOFError
        return line.rstrip("\n")
    return await asyncio.to_thread(getpass.getpass, prompt)


class Quit(Exception):
    """`\\quit` was given."""


class Shell:
    def __init__(
        self,
        client: AsyncClient,
        write: Callable[[str], Any] = print,
        warn: Callable[[str], Any] = print,
        read_password: PasswordReader = read_password_tty,
    ) -> None:
        self.client = client
        self.write = write
        self.warn = warn  # errors; `-c` sends them to stderr
        self.read_password = read_password
        self.pushes = 0
        self.show_events = False
        self._link_lost = False
        client.on_event(self._on_push)
        client.on_state(self._on_state)

    def _on_push(self, push: Push) -> None:
        self.pushes += 1
        if self.show_events:
            self.write(render_push(push))
        elif push.event == SESSION_ENDED_EVENT:  # said even with events off: calls now fail
            why = push.data.get("reason") or push.data.get("message") or "ended"
            self.warn(f"signed out: the session ended ({why}); \\login USER signs in again")

    def _on_state(self, state: State) -> None:
        """A lost link and its return are said as they happen, not only in the toolbar."""
        if state == State.RECONNECTING and not self._link_lost:
            self._link_lost = True
            self.warn("link lost: reconnecting by itself; calls fail until it is back")
        elif state == State.CONNECTED and self._link_lost:
            self._link_lost = False
            user = self.client.user
            again = f", signed in again as {user['username']}" if user else ""
            self.warn(f"link back{again}")

    async def run_line(self, line: str) -> int:
        """Run one line and print its outcome; returns its exit status. Raises `Quit`."""
        try:
            command = parse_line(line)
        except ParseError as bad:
            self.warn(f"parse error: {bad}")
            return USAGE
        if command is None:
            return OK
        if isinstance(command, Builtin):
            return await self._builtin(command)
        return await self._call(command)

    async def _call(self, command: OpCall) -> int:
        try:
            result = await self._send(command)
        except FAILURES as error:
            return self._failed(command.op, error)
        self.write(render_value(result))
        return OK

    def _failed(self, op: str, error: BaseException) -> int:
        """Say what went wrong with a call of `op`; its exit status."""
        if isinstance(error, WarungError):
            self.warn(render_error(error))
            offered = offered_ops(self.client.hello)
            if op not in offered and (near := difflib.get_close_matches(op, offered, n=1)):
                self.warn(f"did you mean {near[0]}? (\\help lists the ops)")
        elif isinstance(error, TimeoutError):
            wait = self.client.call_timeout
            within = f" in {wait:g} s" if wait else ""
            self.warn(f"error connection: no answer to {op}{within}; it may or may not have run")
        else:
            self.warn(f"error connection: {error}{self._retry_note()}")
        return ERROR

    def _retry_note(self) -> str:
        wait = self.client.next_retry_s
        if self.client.state != State.RECONNECTING or wait is None:
            return ""
        return f" (reconnecting: the next try within {wait:g} s)"

    async def _send(self, command: OpCall) -> dict[str, Any]:
        """Send through the SDK's own methods where it keeps state (the session token for
        reconnects), else as a plain call."""
        client, op, args = self.client, command.op, command.args
        if op == Op.AUTH_LOGIN and {"username", "password"} <= set(args) <= LOGIN_ARGS:
            return await client.login(**args)
        if op == Op.AUTH_RESUME and set(args) == {"token"}:
            return await client.resume(args["token"])
        if op == Op.AUTH_LOGOUT and not args:
            await client.logout()
            return {}
        if op == Op.STOCK_SUBSCRIBE and _one_subscription_form(args):
            return {"snapshot": await client.subscribe_stock(args.get("product_ids"))}
        if op == Op.STOCK_UNSUBSCRIBE and _one_subscription_form(args):
            await client.unsubscribe_stock(args.get("product_ids"))
            return {}
        return await client.call(op, with_timestamps(op, args))

    async def _builtin(self, command: Builtin) -> int:
        handler = {
            "login": self._login,
            "help": self._help,
            "events": self._events,
            "quit": self._quit,
        }.get(command.name)
        if handler is None:
            self.warn(f"unknown command \\{command.name} (\\help lists them)")
            return USAGE
        return await handler(command.words)

    async def _login(self, words: tuple[str, ...]) -> int:
        if len(words) != 1:
            self.warn("usage: \\login USER")
            return USAGE
        try:
            password = os.environ.get(PASSWORD_ENV) or await self.read_password("password: ")
        except (EOFError, KeyboardInterrupt):
            self.warn(f"\\login: no password (type it, or set {PASSWORD_ENV})")
            return USAGE
        args = {"username": words[0], "password": password}
        try:
            result = await self._send(OpCall(Op.AUTH_LOGIN, args))
        except Unauthenticated as refused:
            if refused.details.get("totp_required"):
                return await self._second_factor(args)
            return self._failed(Op.AUTH_LOGIN, refused)
        except FAILURES as error:
            return self._failed(Op.AUTH_LOGIN, error)
        self.write(render_value(result))
        return OK

    async def _second_factor(self, args: dict[str, str]) -> int:
        """Two-factor sign-in is on: ask for the code (6 digits, or a recovery code)."""
        try:
            code = (await self.read_password("two-factor code (or a recovery code): ")).strip()
        except (EOFError, KeyboardInterrupt):
            self.warn("\\login: no code: the account has two-factor sign-in on")
            return USAGE
        second = {"totp": code} if code.isdigit() else {"recovery_code": code}
        return await self._call(OpCall(Op.AUTH_LOGIN, {**args, **second}))

    async def _help(self, words: tuple[str, ...]) -> int:
        if not words:
            self.write(ops_overview(offered_ops(self.client.hello), _columns()))
            return OK
        spec = REGISTRY.get(words[0])
        if len(words) > 1 or spec is None:
            self.warn(f"no op {' '.join(words)!r} (\\help lists them)")
            return USAGE
        if spec.name not in offered_ops(self.client.hello):
            self.warn(f"{spec.name} is not offered by this server (\\help lists those it is)")
            return ERROR
        self.write(op_help(spec, _columns()))
        return OK

    async def _events(self, words: tuple[str, ...]) -> int:
        if words not in (("on",), ("off",)):
            self.warn("usage: \\events on|off")
            return USAGE
        self.show_events = words == ("on",)
        return OK

    async def _quit(self, words: tuple[str, ...]) -> int:
        raise Quit


def _one_subscription_form(args: dict[str, Any]) -> bool:
    """`product_ids=[...]` or `all=true` alone: what the SDK renews after a reconnect."""
    return args == {"all": True} or (
        set(args) == {"product_ids"} and isinstance(args["product_ids"], list)
    )


def _columns() -> int:
    """The terminal's width, for help text broken between words; piped (a script reading
    `\\help`), a line is never broken."""
    if not sys.stdout.isatty():
        return UNBROKEN
    return shutil.get_terminal_size().columns
