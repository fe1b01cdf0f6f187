"""Ask before what moves money or cannot be undone: a cancel, a refund, stock taken away,
closing the till. The dialog names what will happen and the amount; Enter (or the first
button) goes ahead, Escape (or *Back*) backs out and nothing is sent.

From a worker: `if await self.app.push_screen_wait(ConfirmScreen(...)): <do it>`.

A key pressed before the question was put up is not its answer (the app drops it, see
`WarungApp.on_key`): the Enter that sent the cash handed over, or a second one pressed on
its heels, can reach the question behind its push (a busy app, a browser's link), where
the focused button would take it as *Sell*.
"""

from __future__ import annotations

from typing import ClassVar

from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Label, Static


class ConfirmScreen(ModalScreen[bool]):
    """Dismissed with True to go ahead, False to back out."""

    AUTO_FOCUS = "#confirm"
    BINDINGS: ClassVar[list[BindingType]] = [
        # not priority: Enter on a focused button (Tab to *Back*) presses that button
        Binding("enter", "answer(True)", "Confirm"),
        Binding("escape", "answer(False)", "Back"),
    ]

    def __init__(self, title: str, what: str, amount: str, *, go: str, back: str = "Back") -> None:
        """`title`: the question (`Cancel order #12?`); `what`: what will happen, in a
        sentence or two; `amount`: the money or units it moves (`Refund Rp 45.000,00`),
        shown in bold; `go` and `back`: the two buttons' labels."""
        super().__init__()
        self.title_text = title
        self.what = what
        self.amount = amount
        self.go = go
        self.back = back
        self.asked_at: float | None = None  # when the question was put up (Message.time)

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-dialog", classes="dialog") as dialog:
            dialog.border_title = self.title_text
            yield Static(self.what, id="confirm-what")
            yield Label(self.amount, id="confirm-amount")
            with Horizontal(classes="buttons"):
                yield Button(f"{self.go} (Enter)", id="confirm", variant="error", compact=True)
                yield Button(f"{self.back} (Esc)", id="back", compact=True)
        yield Footer()

    def on_screen_resume(self, event: events.ScreenResume) -> None:
        if self.asked_at is None:
            self.asked_at = event.time

    def answered_by(self, key: events.Key) -> bool:
        """Whether `key` was pressed once the question was up (keys carry the time they
        were read, on the clock of Textual's messages)."""
        return self.asked_at is not None and key.time >= self.asked_at

    def action_answer(self, go: bool) -> None:
        self.dismiss(go)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "confirm")


def leave_question(title: str) -> ConfirmScreen:
    """Asked before a form with something typed in it closes: what was typed is lost."""
    return ConfirmScreen(
        title,
        "What you typed here is lost.",
        "Nothing is sent",
        go="Leave",
        back="Keep editing",
    )
