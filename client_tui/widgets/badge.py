"""A view's news for the title of its tab (a count of orders waiting, say), so it shows
while another tab is in front."""

from __future__ import annotations

from textual.message import Message
from textual.widget import Widget


class TabBadge(Message):
    def __init__(self, view: Widget, text: str) -> None:
        """`text` "" takes the badge away."""
        super().__init__()
        self.view = view
        self.text = text
