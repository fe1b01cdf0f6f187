"""The field for a 6-digit two-factor code: digits only, six at most."""

from __future__ import annotations

from textual.widgets import Input


class CodeInput(Input):
    def __init__(self, *, id: str) -> None:
        super().__init__(
            placeholder="6 digits", restrict=r"[0-9]*", max_length=6, id=id, compact=True
        )
