"""The interactive prompt: completion, history, a status toolbar, pushes above the prompt."""

from __future__ import annotations

from prompt_toolkit import PromptSession
from prompt_toolkit.history import FileHistory
from prompt_toolkit.patch_stdout import patch_stdout

from client_shell.completion import ShellCompleter
from client_shell.offered import offered_ops
from client_shell.paths import history_file
from client_shell.shell import Quit, Shell
from protocol.client import AsyncClient, State


def toolbar_text(client: AsyncClient, state: State, pushes: int) -> str:
    user = client.user
    who = f"{user['username']} ({user['role']})" if user else "not signed in"
    return f" {client.host}:{client.port} | {state} | {who} | pushes: {pushes} "


async def run_interactive(shell: Shell) -> int:
    """Read and run lines until `\\quit` or Ctrl-D; Ctrl-C clears the line."""
    client = shell.client
    path = history_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    session: PromptSession[str] = PromptSession(
        history=FileHistory(str(path)),
        completer=ShellCompleter(lambda: offered_ops(client.hello)),
        complete_while_typing=False,
        bottom_toolbar=lambda: toolbar_text(client, client.state, shell.pushes),
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
            try:
                line = await session.prompt_async("warung> ")
            except KeyboardInterrupt:
                continue
            except EOFError:
                return 0
            try:
                await shell.run_line(line)
            except Quit:
                return 0
