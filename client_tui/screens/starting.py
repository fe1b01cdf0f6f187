"""What shows while the app signs in by itself (a kept session, `--demo`): a line saying
what it is doing, from the first frame, instead of a blank terminal or a sign-in form
that is not going to be used."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Center, Middle
from textual.screen import Screen
from textual.widgets import Footer, Label

from client_tui.widgets.status import StatusBar


class StartingScreen(Screen[None]):
    def __init__(self, doing: str) -> None:
        super().__init__()
        self.doing = doing

    def compose(self) -> ComposeResult:
        yield StatusBar()
        with Middle(id="starting"), Center():
            yield Label(self.doing, id="starting-what")
        yield Footer()

    def say(self, text: str) -> None:
        self.query_one("#starting-what", Label).update(text)
