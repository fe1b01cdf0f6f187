"""Declarative argument schemas: the server validates with them, the shell completes from them.

A schema is a tuple of `Field`s plus optional "exactly one of" groups. Validation returns a
new dict with defaults filled in, or raises `BadRequest` naming the field path and the rule.
"""

import re
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import date, datetime
from functools import cached_property
from typing import Any

from protocol.errors import BadRequest
from protocol.excerpt import excerpt


class Type(ABC):
    """A field's type and bounds. `check` returns the value (maybe normalised) or raises."""

    name = "any"

    @abstractmethod
    def check(self, value: Any, path: str) -> Any: ...

    def describe(self) -> str:
        return self.name


def _fail(path: str, rule: str, value: Any) -> BadRequest:
    shown = repr(value) if isinstance(value, int | bool) else type(value).__name__
    return BadRequest(f"argument '{path}' {rule} (got {shown})", {"field": path, "rule": rule})


@dataclass(frozen=True)
class Int(Type):
    min: int = -(2**63)
    max: int = 2**63 - 1
    nonzero: bool = False
    name = "int"

    def check(self, value: Any, path: str) -> int:
        if type(value) is not int:
            raise _fail(path, "must be an integer", value)
        if not self.min <= value <= self.max:
            raise _fail(path, f"must be from {self.min} to {self.max}", value)
        if self.nonzero and value == 0:
            raise _fail(path, "must not be 0", value)
        return value

    def describe(self) -> str:
        return f"int {self.min}..{self.max}" + (", not 0" if self.nonzero else "")


@dataclass(frozen=True)
class Controls:
    """The control characters a str may not hold, and the rule a refusal names."""

    forbidden: re.Pattern[str]
    rule: str


NO_CONTROLS = Controls(re.compile(r"[\x00-\x1f\x7f-\x9f]"), "must not contain control characters")
"""The default: no C0 or C1 control character and no DEL. NUL cannot be stored on
PostgreSQL at all, and the others only ever serve to fool a terminal or a log reader."""
TEXT_CONTROLS = Controls(
    re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]"),
    "must not contain control characters other than tab and line breaks",
)
"""Free text of several lines (a description, a reason): tab, LF and CR as well."""
SECRET_CONTROLS = Controls(re.compile(r"\x00"), "must not contain NUL")
"""A password, never stored nor shown: anything but NUL, so that one set before these rules
still signs in."""


@dataclass(frozen=True)
class Str(Type):
    min_len: int = 0
    max_len: int = 200
    pattern: str | None = None
    choices: tuple[str, ...] | None = None
    rule: str | None = None
    controls: Controls = NO_CONTROLS
    name = "str"

    def check(self, value: Any, path: str) -> str:
        if not isinstance(value, str):
            raise _fail(path, "must be a string", value)
        if self.choices is not None:
            if value not in self.choices:
                raise _fail(path, f"must be one of {', '.join(self.choices)}", value)
            return value
        if not self.min_len <= len(value) <= self.max_len:
            raise _fail(path, f"must be {self.min_len} to {self.max_len} characters", value)
        if self.pattern is not None and not re.fullmatch(self.pattern, value):
            raise _fail(
                path, f"must be {self.rule}" if self.rule else f"must match {self.pattern}", value
            )
        if self.controls.forbidden.search(value):  # after a pattern, which words it better
            raise _fail(path, self.controls.rule, value)
        return value

    def describe(self) -> str:
        if self.choices:
            return " | ".join(self.choices)
        return f"str {self.min_len}..{self.max_len} chars"


@dataclass(frozen=True)
class Bool(Type):
    only: bool | None = None
    name = "bool"

    def check(self, value: Any, path: str) -> bool:
        if not isinstance(value, bool):
            raise _fail(path, "must be true or false", value)
        if self.only is not None and value is not self.only:
            raise _fail(path, f"must be {str(self.only).lower()}", value)
        return value


@dataclass(frozen=True)
class Day(Type):
    """A calendar day as an ISO string 'YYYY-MM-DD' (easy to type in any client)."""

    name = "date"

    def check(self, value: Any, path: str) -> date:
        if isinstance(value, str) and re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
            try:
                return date.fromisoformat(value)
            except ValueError:
                pass
        raise _fail(path, "must be a date 'YYYY-MM-DD'", value)


@dataclass(frozen=True)
class Timestamp(Type):
    """A moment: the msgpack timestamp extension, which the codec decodes as an aware UTC
    datetime. Its bounds against the server's clock are the op's own check."""

    name = "timestamp"

    def check(self, value: Any, path: str) -> datetime:
        if not isinstance(value, datetime) or value.tzinfo is None:
            raise _fail(path, "must be a timestamp", value)
        return value


@dataclass(frozen=True)
class VersionSpec(Type):
    """An int version, or a [min, max] pair of them."""

    max: int = 2**16 - 1
    name = "int | [int, int]"

    def check(self, value: Any, path: str) -> tuple[int, int]:
        if self._version(value):
            return (value, value)
        if (
            isinstance(value, list)
            and len(value) == 2
            and all(self._version(v) for v in value)
            and value[0] <= value[1]
        ):
            return (value[0], value[1])
        raise _fail(path, "must be a version number or [min, max]", value)

    def _version(self, value: Any) -> bool:
        return type(value) is int and 0 <= value <= self.max


@dataclass(frozen=True)
class ListOf(Type):
    item: Type
    min_len: int = 0
    max_len: int = 100
    unique: bool = False
    name = "list"

    def check(self, value: Any, path: str) -> list[Any]:
        if not isinstance(value, list):
            raise _fail(path, "must be a list", value)
        if not self.min_len <= len(value) <= self.max_len:
            raise _fail(path, f"must have {self.min_len} to {self.max_len} items", len(value))
        items = [self.item.check(v, f"{path}[{i}]") for i, v in enumerate(value)]
        if self.unique and len(set(items)) != len(items):
            raise _fail(path, "must not repeat an item", value)
        return items

    def describe(self) -> str:
        return f"list of {self.item.describe()} ({self.min_len}..{self.max_len})"


@dataclass(frozen=True)
class Field:
    name: str
    type: Type
    required: bool = False
    default: Any = None
    doc: str = ""


@dataclass(frozen=True)
class Record(Type):
    """A map with named fields; also the schema of an op's `args`."""

    fields: tuple[Field, ...] = ()
    one_of: tuple[tuple[str, ...], ...] = ()
    name = "map"

    @cached_property
    def _by_name(self) -> dict[str, Field]:
        return {f.name: f for f in self.fields}

    def check(self, value: Any, path: str = "") -> dict[str, Any]:
        if not isinstance(value, dict):
            raise _fail(path or "args", "must be a map", value)
        known = self._by_name
        for key in value:
            if key not in known:
                shown = excerpt(key)
                where = f"{path}.{shown}" if path else shown
                raise BadRequest(
                    f"unknown argument '{where}' (known: {', '.join(known) or 'none'})",
                    {"field": where, "rule": "unknown"},
                )
        out: dict[str, Any] = {}
        for f in self.fields:
            where = f"{path}.{f.name}" if path else f.name
            if f.name in value and value[f.name] is not None:
                out[f.name] = f.type.check(value[f.name], where)
            elif f.required:
                raise BadRequest(
                    f"missing argument '{where}'", {"field": where, "rule": "required"}
                )
            elif f.default is not None:
                out[f.name] = f.default
        for group in self.one_of:
            present = [name for name in group if name in out]
            if len(present) != 1:
                paths = [f"{path}.{n}" if path else n for n in group]
                names = " or ".join(f"'{p}'" for p in paths)
                raise BadRequest(
                    f"give exactly one of {names}",
                    {"field": paths[0], "rule": "exactly_one_of", "fields": paths},
                )
        return out

    def describe(self) -> str:
        return "{" + ", ".join(f.name for f in self.fields) + "}"


EMPTY = Record()
