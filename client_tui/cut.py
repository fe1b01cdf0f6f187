"""Shortening a name to a width without losing what tells it apart from its neighbours."""

from __future__ import annotations

import re
import textwrap

from rich.cells import cell_len, set_cell_size
from rich.console import Console, ConsoleOptions, RenderResult
from rich.measure import Measurement
from rich.text import Text

ELLIPSIS = "…"
MAX_LINES = 4
_AMOUNT = re.compile(r"(?<=\d) (?=\w{1,3}(?:\s|$))")  # "370 g", "1 L": one word to wrap
_KEEP = "\u00a0"  # a space textwrap does not break at


def fold(text: str, width: int, most: int = MAX_LINES) -> list[str]:
    """`text` wrapped at words into lines of `width`, an amount kept with its unit; beyond
    `most` lines the last is cut in the middle (`middle_cut`), so the end still shows."""
    kept = _AMOUNT.sub(_KEEP, text)
    lines = [line.replace(_KEEP, " ") for line in textwrap.wrap(kept, max(1, width))] or [""]
    if len(lines) > most:
        lines = [*lines[: most - 1], middle_cut(" ".join(lines[most - 1 :]), width)]
    return lines


class Folded:
    """`text` as `fold` wraps it, in at most `most` lines, for the width it gets when drawn:
    a Rich renderable for a cell whose width only the table knows (a grid column that takes
    what is left). `most=1`: one line cut in the middle, keeping a name's end (its size)."""

    def __init__(self, text: str, most: int = MAX_LINES) -> None:
        self.text = text
        self.most = most

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield Text("\n".join(fold(self.text, options.max_width, self.most)))

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement(1, cell_len(self.text))


def middle_cut(text: str, width: int) -> str:
    """`text` in `width` cells, cut in the middle when it is longer: the start (the brand)
    and the end (the variant, "370 g" against "40 g") both stay, the end whole words where
    it can be: "Bunda Susu Kental…Cokelat 370 g"."""
    if cell_len(text) <= width:
        return text
    if width <= 1:
        return ELLIPSIS[:width]
    room = width - 1
    tail_room = room - max(1, room // 3)  # a third at least for the start
    tail = (_tail_words(text, tail_room) or text[-(room // 2) :]) if room > 1 else ""
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
