"""The shell's command syntax: `OP key=value ...` and backslash built-ins like `\\login USER`.

Values: integers, `true`/`false`, `null`, JSON for lists and maps, quoted strings (double
quotes with JSON escapes, or single quotes taken literally), else the bare text. A dotted
key (`payment.method=card`) sets a field inside a map argument. An argument the op takes as
a timestamp (`clerk.sale`'s `offline_at`) is written in ISO 8601 (`2026-11-30T09:30:00Z`;
without an offset: UTC) and sent as one (`with_timestamps`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from protocol.ops import REGISTRY
from protocol.schema import Timestamp

KEY_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")
INT_RE = re.compile(r"[+-]?[0-9]+")
LITERALS: dict[str, Any] = {"true": True, "false": False, "null": None}
CLOSERS = {"[": "]", "{": "}"}


class ParseError(ValueError):
    """The line is not a command; the message says why, for the user."""


@dataclass(frozen=True)
class OpCall:
    """A request: the op's name and its arguments."""

    op: str
    args: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Builtin:
    """A backslash command (`\\login`, `\\help`, ...) with its words, name without the slash."""

    name: str
    words: tuple[str, ...] = ()


Command = OpCall | Builtin


def split_words(line: str) -> list[str]:
    """Split at whitespace outside quotes and brackets, keeping quotes and brackets in the
    words, so that `payment={"method": "card"}` stays one word. A quote inside a bare word
    is the text's own (`query=Kopi's`)."""
    words: list[str] = []
    current: list[str] = []
    stack: list[str] = []
    quote: str | None = None
    chars = iter(line)
    for char in chars:
        if quote is not None:
            current.append(char)
            if char == "\\" and quote == '"':
                current.append(next(chars, ""))
            elif char == quote:
                quote = None
        elif char in "\"'" and (stack or not current or current[-1] == "="):
            quote = char  # a quote opens a value (or a string inside JSON), not mid-word
            current.append(char)
        elif char in CLOSERS:
            stack.append(CLOSERS[char])
            current.append(char)
        elif stack and char == stack[-1]:
            stack.pop()
            current.append(char)
        elif char.isspace() and not stack:
            if current:
                words.append("".join(current))
                current = []
        else:
            current.append(char)
    if quote is not None:
        raise ParseError(f"unterminated {quote} quote")
    if stack:
        raise ParseError(f"unclosed bracket: expected {stack[-1]!r}")
    if current:
        words.append("".join(current))
    return words


def parse_value(text: str, key: str = "value") -> Any:
    """One value as the syntax reads it (see the module docstring)."""
    if text in LITERALS:
        return LITERALS[text]
    if INT_RE.fullmatch(text):
        return int(text)
    if text.startswith(("[", "{", '"')):
        try:
            return json.loads(text)
        except json.JSONDecodeError as bad:
            raise ParseError(f"{key}: not valid JSON ({bad.msg} at column {bad.pos + 1})") from None
    if text.startswith("'"):
        if len(text) < 2 or not text.endswith("'"):
            raise ParseError(f"{key}: text after the closing quote")
        return text[1:-1]
    return text


def with_timestamps(op: str, args: dict[str, Any]) -> dict[str, Any]:
    """`args` with the ISO 8601 text of each timestamp argument of `op` as a UTC datetime;
    a text that is not one stays as it is, for the server to refuse naming the argument."""
    spec = REGISTRY.get(op)
    if spec is None:
        return args
    converted = dict(args)
    for item in spec.args.fields:
        text = args.get(item.name)
        if isinstance(item.type, Timestamp) and isinstance(text, str):
            try:
                moment = datetime.fromisoformat(text)
            except ValueError:
                continue
            converted[item.name] = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return converted


def parse_line(line: str) -> Command | None:
    """Parse one line; None for a blank line."""
    words = split_words(line)
    if not words:
        return None
    head, rest = words[0], words[1:]
    if head.startswith("\\"):
        return Builtin(head[1:], tuple(rest))
    if "=" in head:
        raise ParseError(f"a command starts with an op name, not {head!r}")
    args: dict[str, Any] = {}
    for word in rest:
        key, sep, text = word.partition("=")
        if not sep:
            raise ParseError(f"expected key=value, got {word!r}")
        if not KEY_RE.fullmatch(key):
            raise ParseError(f"bad argument name {key!r}")
        _assign(args, key, parse_value(text, key))
    return OpCall(head, args)


def _assign(args: dict[str, Any], key: str, value: Any) -> None:
    """Set `value` at a dotted `key`, making the maps on the way; a key given twice fails."""
    *parents, last = key.split(".")
    target = args
    for depth, name in enumerate(parents):
        existing = target.setdefault(name, {})
        if not isinstance(existing, dict):
            path = ".".join(parents[: depth + 1])
            raise ParseError(f"{key}: {path!r} is already set to a value that is not a map")
        target = existing
    if last in target:
        raise ParseError(f"argument {key!r} given twice")
    target[last] = value
