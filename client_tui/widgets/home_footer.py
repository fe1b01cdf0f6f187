"""The home screen's footer, which gives its room to the tab's own keys when it is narrow."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.reactive import reactive
from textual.widget import Widget
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

LEFT_OUT = frozenset({"quit"})  # Ctrl+Q and q still quit; `?` Help lists them
LAST = frozenset({"sign_out"})


class HomeFooter(Footer):
    """Textual's footer that, compact (below 100 columns), leaves out Quit and the palette's
    key (Ctrl+P works unseen) and puts Sign out last: at 80 columns they pushed a tab's own
    keys and Help off the line. Sign out stays on it for a phone, whose finger slides the
    footer along to reach it."""

    compact = reactive(False, toggle_class="-compact", recompose=True)

    def compose(self) -> ComposeResult:
        if not self.compact:
            yield from super().compose()
            return
        last: list[Widget] = []
        for widget in super().compose():
            action = widget.action if isinstance(widget, FooterKey) else None
            if action in LEFT_OUT or widget.has_class("-command-palette"):
                continue
            if action in LAST:
                last.append(widget)
                continue
            yield widget
        yield from last
