"""The interactive prompt: completion, history, a status toolbar, pushes above the prompt.

A line holds at most `MAX_LINE` characters: prompt_toolkit redraws the line and keeps a
copy of it for undo at every key, so a long text typed in (a paste the terminal does not
mark as one) took minutes and gigabytes. Ctrl-C while a line's call waits abandons the call
and gives the prompt back (by default asyncio would end the program).
"""

from __future__ import annotations

import asyncio
import signal
from dataclasses import dataclass

from prompt_toolkit import PromptSession
from prompt_toolkit.application import get_app
from prompt_toolkit.filters import Condition
from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent
from prompt_toolkit.keys import Keys
from prompt_toolkit.patch_stdout import patch_stdout

from client_shell.completion import ShellCompleter
from client_shell.history import MAX_LINE, ShellHistory
from client_shell.offered import offered_ops
from client_shell.paths import history_file
from client_shell.shell import Quit, Shell
from protocol.client import AsyncClient, State

TOO_LONG = f"a line holds at most {MAX_LINE:,} characters (a longer request: warung-shell -c)"
INTERRUPTED = "interrupted: the answer, if one comes, is not shown; the request may have run"


def toolbar_text(client: AsyncClient, state: State, pushes: int, notice: str = "") -> str:
    user = client.user
    who = f"{user['username']} ({user['role']})" if user else "not signed in"
    line = f" {client.host}:{client.port} | {state} | {who} | pushes: {pushes} "
    return f"{line}| {notice} " if notice else line


@dataclass
class Notice:
    """What the toolbar says after its usual line, until the next prompt."""

    text: str = ""


def line_limit(notice: Notice) -> KeyBindings:
    """Keys that keep the line within `MAX_LINE` characters, saying so in `notice`."""
    keys = KeyBindings()

    @Condition
    def full() -> bool:
        return len(get_app().current_buffer.text) >= MAX_LINE

    @keys.add(Keys.Any, filter=full)
    def _refuse(event: KeyPressEvent) -> None:
        notice.text = TOO_LONG

    @keys.add(Keys.BracketedPaste)
    def _paste(event: KeyPressEvent) -> None:
        data = event.data.replace("\r\n", "\n").replace("\r", "\n")  # as prompt_toolkit does
        buffer = event.current_buffer
        if len(buffer.text) + len(data) > MAX_LINE:
            notice.text = f"not pasted, {len(data):,} characters: {TOO_LONG}"
            return
        buffer.insert_text(data)

    return keys


async def run_interruptible(shell: Shell, line: str) -> None:
    """`shell.run_line(line)`; Ctrl-C meanwhile (a signal: the prompt has left the terminal
    to the call) cancels it and says so."""
    loop = asyncio.get_running_loop()
    task = asyncio.ensure_future(shell.run_line(line))
    # A plain handler, not the loop's: a prompt inside the line (`\login`'s password) puts
    # back on its way out the handler it found, and would drop one of the loop's.
    previous = signal.signal(signal.SIGINT, lambda *_: loop.call_soon_threadsafe(task.cancel))
    try:
        await asyncio.wait({task})
    finally:
        signal.signal(signal.SIGINT, previous)
    if task.cancelled():
        shell.warn(INTERRUPTED)
        return
    task.result()  # `Quit`, or what went wrong


async def run_interactive(shell: Shell) -> int:
    """Read and run lines until `\\quit` or Ctrl-D; Ctrl-C clears the line, or abandons the
    call that a line waits for."""
    client = shell.client
    notice = Notice()
    session: PromptSession[str] = PromptSession(
        history=ShellHistory(history_file()),
        completer=ShellCompleter(lambda: offered_ops(client.hello)),
        complete_while_typing=False,
        key_bindings=line_limit(notice),
        bottom_toolbar=lambda: toolbar_text(client, client.state, shell.pushes, notice.text),
        refresh_interval=0.5,  # state and push count change while the prompt waits
    )
    password_session: PromptSession[str] = PromptSession()  # no history: passwords stay out

    async def read_password(prompt: str) -> str:
        return await password_session.prompt_async(prompt, is_password=True)

    shell.read_password = read_password
    shell.warn = print  # stdout, which patch_stdout keeps above the prompt
    shell.write("warung-shell: \\help lists the ops, \\quit leaves")
    with patch_stdout():
        while True:
            notice.text = ""
            try:
                line = await session.prompt_async("warung> ")
            except KeyboardInterrupt:
                continue
            except EOFError:
                return 0
            try:
                await run_interruptible(shell, line)
            except Quit:
                return 0
