"""The options of an argparse parser seen as configuration keys, for server/config.py.

Each option's key is its `dest` (`--metrics-port`: `metrics_port`), its variable `WARUNG_`
and the key in capitals; its kind (a value, a switch, a list, a table of `NAME=VALUE`) comes
from its argparse action, and whether the file writes it as a number from its type.
"""

from __future__ import annotations

import argparse
import inspect
import re
import typing
from dataclasses import dataclass
from enum import Enum
from typing import Any, NoReturn

ENV_PREFIX = "WARUNG_"
CONFIG_KEY = "config"  # --config FILE or $WARUNG_CONFIG: where the file is, not a key in it
SECRET_WORDS = ("password", "secret", "token")
URL_PASSWORD = re.compile(r"(\w[\w+.-]*://[^/@:\s]*):[^/@\s]*@")


class ConfigError(Exception):
    """The configuration cannot be used; each problem names its key and where it came from."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class PairsAction(argparse._AppendAction):
    """A repeatable `--opt NAME=VALUE`: a TOML table, merged name by name across the layers."""


class CheckingParser(argparse.ArgumentParser):
    """A parser that raises `ConfigError` instead of exiting, and `ArgumentError` for values."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(exit_on_error=False, **kwargs)

    def error(self, message: str) -> NoReturn:
        raise ConfigError([message])


class Kind(Enum):
    VALUE = "value"
    SWITCH = "switch"  # a boolean: store_true, store_false, BooleanOptionalAction
    LIST = "list"  # action="append": a TOML array, replaced whole by a higher layer
    TABLE = "table"  # PairsAction: a TOML table


@dataclass(frozen=True)
class Option:
    key: str
    flag: str
    kind: Kind
    number: bool  # the file gives it (or each item) as a TOML number rather than a string
    default: Any

    @property
    def env(self) -> str:
        return ENV_PREFIX + self.key.upper()

    @property
    def secret(self) -> bool:
        return is_secret(self.key)


def options(parser: argparse.ArgumentParser) -> list[Option]:
    """The configurable options of `parser`; one argparse cannot map raises TypeError."""
    found = []
    for action in parser._actions:  # argparse has no public list of a parser's actions
        if not action.option_strings or action.dest in (argparse.SUPPRESS, CONFIG_KEY):
            continue
        if isinstance(action, argparse._HelpAction | argparse._VersionAction):
            continue
        flag = _flag(action)
        found.append(Option(action.dest, flag, _kind(action), _number(action), action.default))
    return found


def _kind(action: argparse.Action) -> Kind:
    if isinstance(action, PairsAction):
        return Kind.TABLE
    switches = (
        argparse._StoreTrueAction,
        argparse._StoreFalseAction,
        argparse.BooleanOptionalAction,
    )
    if isinstance(action, switches):
        return Kind.SWITCH
    if isinstance(action, argparse._StoreAction) and action.nargs in (None, "?"):
        return Kind.VALUE
    if isinstance(action, argparse._AppendAction) and action.nargs is None:
        return Kind.LIST
    raise TypeError(f"{_flag(action)}: {type(action).__name__} has no TOML form")


def _flag(action: argparse.Action) -> str:
    """The option's first long spelling: `--demo` rather than `--no-demo`."""
    spellings = action.option_strings
    return next((s for s in spellings if s.startswith("--")), spellings[0])


def _number(action: argparse.Action) -> bool:
    """Whether the option's type makes an int or a float (`_port` says so by its annotation)."""
    convert = action.type
    if convert in (int, float):
        return True
    if not inspect.isfunction(convert):
        return False
    try:
        return typing.get_type_hints(convert).get("return") in (int, float)
    except (NameError, TypeError):  # an annotation that does not resolve says nothing
        return False


def suppress_defaults(parser: argparse.ArgumentParser) -> None:
    """Leave options not given out of the namespace, so that the layers below can fill them."""
    for action in parser._actions:
        if action.option_strings:
            action.default = argparse.SUPPRESS


def is_secret(key: str) -> bool:
    """Whether a key's value is never shown (a URL's password is masked in any value)."""
    return any(word in key.lower() for word in SECRET_WORDS)


def mask(text: str) -> str:
    """`text` with the password of any URL in it replaced by `***`."""
    return URL_PASSWORD.sub(r"\1:***@", text)
