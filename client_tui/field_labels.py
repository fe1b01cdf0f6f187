"""A field's label is a way to the field: a click on it (a tap, on a phone, where the field
itself is one line tall) puts the focus in the field, as a form's label does in a browser.
A label belongs to the field laid out right after it in the same container, which is how
every dialog here lays out its fields."""

from __future__ import annotations

from textual.widget import Widget
from textual.widgets import Input, Label


def field_of(widget: Widget | None) -> Input | None:
    """The field `widget` labels, if it is a label with a field that can take the focus
    right after it; else None."""
    parent = None if widget is None else widget.parent
    if not isinstance(widget, Label) or parent is None:
        return None
    siblings = list(parent.children)
    after = siblings[siblings.index(widget) + 1 :][:1]
    if after and isinstance(after[0], Input) and after[0].focusable:
        return after[0]
    return None
