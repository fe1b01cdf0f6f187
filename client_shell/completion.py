"""Tab completion: op names, then that op's `key=` names, then choices for their values."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from prompt_toolkit.completion import CompleteEvent, Completer, Completion
from prompt_toolkit.document import Document

from client_shell.helptext import BUILTINS
from protocol.ops import REGISTRY
from protocol.schema import Bool, Field, Record, Str, Type

BUILTIN_WORDS: dict[str, tuple[str, ...]] = {"\\events": ("on", "off")}
HELP = "\\help"  # completes the offered ops


def field_names(record: Record, prefix: str = "") -> Iterator[tuple[str, Field]]:
    """Every argument name of `record`, with dotted names for fields of nested maps."""
    for field in record.fields:
        yield prefix + field.name, field
        if isinstance(field.type, Record):
            yield from field_names(field.type, f"{prefix}{field.name}.")


def value_choices(kind: Type) -> tuple[str, ...]:
    if isinstance(kind, Str) and kind.choices:
        return kind.choices
    if isinstance(kind, Bool):
        return ("true",) if kind.only else ("true", "false")
    return ()


class ShellCompleter(Completer):
    def __init__(self, offered: Callable[[], list[str]] = lambda: sorted(REGISTRY)) -> None:
        """`offered()`: the ops to complete, as the server offers them now."""
        self.offered = offered

    def get_completions(
        self, document: Document, complete_event: CompleteEvent
    ) -> Iterable[Completion]:
        before = document.text_before_cursor
        words = before.split()
        if not words or (len(words) == 1 and not before[-1].isspace()):
            yield from _starting(words[0] if words else "", [*self.offered(), *BUILTINS])
            return
        word = "" if before[-1].isspace() else words[-1]
        head = words[0]
        if head in BUILTIN_WORDS or head == HELP:
            if len(words) - (word != "") == 1:
                yield from _starting(word, BUILTIN_WORDS.get(head) or self.offered())
            return
        spec = REGISTRY.get(head)
        if spec is None or head not in self.offered():
            return
        fields = dict(field_names(spec.args))
        key, sep, value = word.partition("=")
        if sep:
            field = fields.get(key)
            if field is not None:
                yield from _starting(value, value_choices(field.type))
            return
        used = {w.partition("=")[0] for w in words[1:] if "=" in w}
        for name, field in fields.items():
            if name.startswith(word) and name not in used:
                meta = field.type.describe() + (", required" if field.required else "")
                yield Completion(f"{name}=", -len(word), display_meta=meta)


def _starting(word: str, candidates: Iterable[str]) -> Iterator[Completion]:
    for candidate in candidates:
        if candidate.startswith(word):
            yield Completion(candidate, -len(word))
