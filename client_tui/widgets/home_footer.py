"""The home screen's footer, which gives its room to the tab's own keys when it is narrow."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.reactive import reactive
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

LEFT_OUT = frozenset({"quit"})  # Ctrl+Q and q still quit; `?` Help lists them


class HomeFooter(Footer):
    """Textual's footer that, compact (below 100 columns), leaves out Quit and the palette's
    key (Ctrl+P works unseen) and docks Help at the left: at 80 columns they pushed a tab's
    own keys and Help off the line, and at 44 a tab's own keys do, so Help, which lists them
    all, comes first. Sign out, the screen's key, comes after the tab's: a phone's finger
    slides the footer along to reach it. Keys are yielded as they come (a binding group's
    keys must be yielded inside its group), so CSS moves Help (`-help`)."""

    DEFAULT_CSS = """
    HomeFooter.-compact FooterKey.-help {
        dock: left;
    }
    """

    compact = reactive(False, toggle_class="-compact", recompose=True)

    def compose(self) -> ComposeResult:
        for widget in super().compose():
            action = widget.action if isinstance(widget, FooterKey) else None
            if self.compact and (action in LEFT_OUT or widget.has_class("-command-palette")):
                continue
            if action == "help":
                widget.add_class("-help")
            yield widget
