"""`?`: the keys that work where the user is, and what each screen is for."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import ActiveBinding, Binding, BindingType
from textual.containers import VerticalScroll
from textual.dom import DOMNode
from textual.screen import ModalScreen, Screen
from textual.widgets import Footer, Static

ABOUT = (
    "Arrows move, Enter opens what is under the cursor, Tab goes to the next field, "
    "Escape closes a dialog. Ctrl+P finds any command by name; Ctrl+Q quits. "
    "The top line shows the shop, who is signed in and the connection: the app "
    "reconnects by itself (a customer's cart is kept on the server meanwhile)."
)


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,question_mark,f1,q", "dismiss", "Close")
    ]

    def __init__(self, bindings: dict[str, ActiveBinding], here: str | None = None) -> None:
        """`here`: what the view in front is for and its keys that a field hides now (the
        till's + - x, while its entry line takes them as characters)."""
        super().__init__()
        self.bindings = bindings
        self.here = here

    @classmethod
    def of(cls, screen: Screen[object]) -> HelpScreen:
        """The help of `screen`: its keys, and the `HELP` of the view with the cursor."""
        return cls(screen.active_bindings, help_here(screen.focused or screen))

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-dialog", classes="dialog") as dialog:
            dialog.border_title = "Help: the keys here"
            yield Static(self._keys(), id="help-keys")
            if self.here:
                yield Static(Text(self.here), id="help-here")  # words, not markup
            yield Static(ABOUT, id="help-about")
        yield Footer()

    def _keys(self) -> Text:
        rows: list[tuple[str, str, bool]] = []
        seen: set[str] = set()
        for active in self.bindings.values():
            binding = active.binding
            if binding.system or not binding.description or binding.description in seen:
                continue
            if (binding.key, binding.action) not in _own_bindings(active.node):
                continue  # Textual's own keys (cursor, paging, focus) go without saying
            seen.add(binding.description)
            rows.append((self.app.get_key_display(binding), binding.description, active.enabled))
        width = max((len(key) for key, _, _ in rows), default=0) + 2
        text = Text()
        for key, description, enabled in rows:
            text.append(key.ljust(width), style="bold")
            text.append(description + "\n", style="" if enabled else "dim")
        text.rstrip()
        return text


def _own_bindings(node: object) -> set[tuple[str, str]]:
    """(key, action) of what the app's own classes bind, in the node's class hierarchy."""
    return {
        (key, binding.action)
        for cls in type(node).__mro__
        if cls.__module__.startswith("client_tui.")
        for binding in cls.__dict__.get("BINDINGS", ())
        if isinstance(binding, Binding)
        for key in binding.key.split(",")
    }


def help_here(node: DOMNode) -> str | None:
    """The `HELP` of the app's own view nearest `node` (Textual's widgets have their own,
    in Markdown, for its help panel)."""
    for each in node.ancestors_with_self:
        if type(each).__module__.startswith("client_tui.") and each.HELP:
            return each.HELP
    return None
