"""Shortening a name to a width without losing what tells it apart from its neighbours."""

from __future__ import annotations

import textwrap

from rich.cells import cell_len, set_cell_size

ELLIPSIS = "…"
MAX_LINES = 4


def fold(text: str, width: int, most: int = MAX_LINES) -> list[str]:
    """`text` wrapped at words into lines of `width`; beyond `most` lines the last is cut in
    the middle (`middle_cut`), so the end still shows."""
    lines = textwrap.wrap(text, max(1, width)) or [""]
    if len(lines) > most:
        lines = [*lines[: most - 1], middle_cut(" ".join(lines[most - 1 :]), width)]
    return lines


def middle_cut(text: str, width: int) -> str:
    """`text` in `width` cells, cut in the middle when it is longer: the start (the brand)
    and the end (the variant, "370 g" against "40 g") both stay, the end whole words where
    it can be: "Bunda Susu Kental…Cokelat 370 g"."""
    if cell_len(text) <= width:
        return text
    if width <= 1:
        return ELLIPSIS[:width]
    room = width - 1
    half = room // 2
    tail = (_tail_words(text, half) or text[-half:]) if half else ""
    head = set_cell_size(text, room - cell_len(tail)).rstrip()
    return f"{head}{ELLIPSIS}{tail}"


def _tail_words(text: str, room: int) -> str:
    """The most whole last words of `text` that fit in `room` cells ("" if not even one)."""
    words = text.split(" ")
    tail = ""
    for word in reversed(words):
        longer = f"{word} {tail}" if tail else word
        if cell_len(longer) > room:
            break
        tail = longer
    return tail
