"""Layered configuration of a command: flag > environment variable > TOML file > default.

Every option of the command's argparse parser is also a key of the TOML file (the option's
`dest`: `--metrics-port` is `metrics_port`) and an environment variable (`WARUNG_` and the key
in capitals: `WARUNG_METRICS_PORT`). Values from the file and the environment go through the
parser itself, so its types and choices check them; an option added to the parser is
configurable both ways with no code here. docs/operations.md ("Configuration") is the
admin's account of the mapping.
"""

from __future__ import annotations

import argparse
import difflib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from server.config_file import ConfigFile, ConfigFileError
from server.config_options import (
    CONFIG_KEY,
    ENV_PREFIX,
    CheckingParser,
    ConfigError,
    Kind,
    Option,
    is_secret,
    mask,
    options,
    suppress_defaults,
)

# WARUNG_ variables of the tests and the clients, which share a shell with the server
NOT_OPTIONS = frozenset({"WARUNG_PASSWORD", "WARUNG_TEST_PG", "WARUNG_REQUIRE_PG"})
TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off"})


@dataclass(frozen=True)
class Setting:
    """One line of the effective configuration: `source` is flag, env, file or default."""

    key: str
    value: Any
    source: str


@dataclass
class Settled:
    namespace: argparse.Namespace
    settings: list[Setting]
    warnings: list[str] = field(default_factory=list)


def settle(
    build: Callable[[], CheckingParser], given: argparse.Namespace, environ: Mapping[str, str]
) -> Settled:
    """`given` (the flags a suppress_defaults parser saw) completed from env, file and defaults.

    `build()` makes a fresh parser with the command's options and their defaults.
    """
    parser = build()
    known = options(parser)
    suppress_defaults(parser)
    config, config_source = _config_path(given, environ)
    problems: list[str] = []
    file_layer = _file_layer(parser, known, config, problems) if config else {}
    env_layer = _env_layer(parser, known, environ, problems)
    if problems:
        raise ConfigError(problems)
    flags = vars(given)
    namespace = argparse.Namespace(**{**flags, CONFIG_KEY: config})
    settings = [Setting(CONFIG_KEY, config, config_source)]
    for option in known:
        layers = [
            (f"file {config}", file_layer),
            (f"env {option.env}", env_layer),
            (f"flag {option.flag}", flags),
        ]
        value, chosen = _merge(option, layers)
        setattr(namespace, option.key, value)
        settings += chosen
    return Settled(namespace, settings, _stray_variables(known, environ))


def _config_path(given: argparse.Namespace, environ: Mapping[str, str]) -> tuple[str | None, str]:
    if getattr(given, CONFIG_KEY, None):
        return given.config, "flag --config"
    if environ.get(ENV_PREFIX + CONFIG_KEY.upper()):
        return environ[ENV_PREFIX + CONFIG_KEY.upper()], f"env {ENV_PREFIX}{CONFIG_KEY.upper()}"
    return None, "default"


def _merge(
    option: Option, layers: Sequence[tuple[str, Mapping[str, Any]]]
) -> tuple[Any, list[Setting]]:
    """The option's value from the highest layer that has it, and where each part came from."""
    if option.kind is not Kind.TABLE:
        value, source = option.default, "default"
        for name, layer in layers:
            if option.key in layer:
                value, source = layer[option.key], name
        return value, [Setting(option.key, value, source)]
    pairs = {_name(pair): (pair, "default") for pair in option.default or []}
    for name, layer in layers:
        pairs.update({_name(pair): (pair, name) for pair in layer.get(option.key, [])})
    chosen = [
        Setting(f"{option.key}.{item}", _number_or_text(pair.partition("=")[2]), source)
        for item, (pair, source) in pairs.items()
    ]
    return [pair for pair, _ in pairs.values()], chosen or [Setting(option.key, {}, "default")]


def _number_or_text(text: str) -> int | float | str:
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _name(pair: str) -> str:
    return pair.partition("=")[0]


def _file_layer(
    parser: CheckingParser, known: list[Option], path: str, problems: list[str]
) -> dict[str, Any]:
    try:
        file = ConfigFile.load(path)
    except ConfigFileError as exc:
        raise ConfigError([str(exc)]) from None
    by_key = {option.key: option for option in known}
    layer: dict[str, Any] = {}
    for key, raw in file.data.items():
        option = by_key.get(key)
        if option is None:
            problems.append(f"{file.where(key)}: {_unknown(key, by_key)}")
            continue
        try:
            layer[key] = _from_file(parser, option, raw, file)
        except ConfigError as exc:
            problems += exc.problems
    return layer


def _unknown(key: str, by_key: Mapping[str, Option]) -> str:
    if key == CONFIG_KEY:
        return "a configuration file cannot name another one"
    close = difflib.get_close_matches(key.replace("-", "_"), list(by_key), n=1)
    return "unknown key" + (f" (did you mean {close[0]!r}?)" if close else "")


def _from_file(parser: CheckingParser, option: Option, raw: Any, file: ConfigFile) -> Any:
    where = file.where(option.key)
    if option.kind is Kind.SWITCH:
        if not isinstance(raw, bool):
            raise ConfigError([f"{where}: expected true or false, not {_toml_type(option, raw)}"])
        return raw
    if option.kind is Kind.VALUE:
        return _value(parser, option, _scalar(option, raw, where), where)
    if option.kind is Kind.LIST:
        if not isinstance(raw, list):
            raise ConfigError([f"{where}: expected an array, not {_toml_type(option, raw)}"])
        return _values(parser, option, [(_scalar(option, item, where), where) for item in raw])
    if not isinstance(raw, dict):
        expected = f"a table [{option.key}]"
        raise ConfigError([f"{where}: expected {expected}, not {_toml_type(option, raw)}"])
    items = []
    for name, item in raw.items():
        at = file.where(name, option.key)
        if isinstance(item, bool) or not isinstance(item, str | int | float):
            expected = "a number or a string"
            raise ConfigError([f"{at}: expected {expected}, not {_toml_type(option, item)}"])
        items.append((f"{name}={item}", at))
    return _values(parser, option, items)


def _scalar(option: Option, raw: Any, where: str) -> str:
    if option.number and isinstance(raw, int | float) and not isinstance(raw, bool):
        return str(raw)
    if not option.number and isinstance(raw, str):
        return raw
    expected = "a number" if option.number else "a string"
    raise ConfigError([f"{where}: expected {expected}, not {_toml_type(option, raw)}"])


def _toml_type(option: Option, raw: Any) -> str:
    """What `raw` is, and (unless the option is a secret) what it says."""
    kinds = {bool: "a boolean", str: "a string", int: "an integer", float: "a float"}
    kinds |= {list: "an array", dict: "a table"}
    visible = isinstance(raw, str | int | float) and not option.secret
    return kinds.get(type(raw), "a date or time") + (f" ({mask(repr(raw))})" if visible else "")


def _env_layer(
    parser: CheckingParser, known: list[Option], environ: Mapping[str, str], problems: list[str]
) -> dict[str, Any]:
    layer: dict[str, Any] = {}
    for option in known:
        text = environ.get(option.env, "")
        if not text:  # empty counts as unset, as it always has for WARUNG_DB
            continue
        try:
            layer[option.key] = _from_env(parser, option, text)
        except ConfigError as exc:
            problems += exc.problems
    return layer


def _from_env(parser: CheckingParser, option: Option, text: str) -> Any:
    where = f"${option.env} ({option.key})"
    if option.kind is Kind.SWITCH:
        word = text.strip().lower()
        if word not in TRUE_WORDS | FALSE_WORDS:
            raise ConfigError([f"{where}: expected 1/true/yes/on or 0/false/no/off, not {text!r}"])
        return word in TRUE_WORDS
    if option.kind is Kind.VALUE:
        return _value(parser, option, text, where)
    items = [item.strip() for item in text.split(",") if item.strip()]
    if option.kind is Kind.TABLE:
        named = [(item, f"${option.env} ({option.key}.{_name(item)})") for item in items]
        return _values(parser, option, named)
    return _values(parser, option, [(item, where) for item in items])


def _value(parser: CheckingParser, option: Option, text: str, where: str) -> Any:
    return getattr(_parse(parser, option, text, where), option.key)


def _values(parser: CheckingParser, option: Option, items: Iterable[tuple[str, str]]) -> list[Any]:
    """Each item through the parser on its own, so that an error names the item's key."""
    values: list[Any] = []
    problems = []
    for text, where in items:
        try:
            values += getattr(_parse(parser, option, text, where), option.key)
        except ConfigError as exc:
            problems += exc.problems
    if problems:
        raise ConfigError(problems)
    return values


def _parse(parser: CheckingParser, option: Option, text: str, where: str) -> argparse.Namespace:
    """`--flag=text` through the parser: its type, choices and checks, as on the command line."""
    try:
        return parser.parse_args([f"{option.flag}={text}"])
    except argparse.ArgumentError as exc:
        problems = [exc.message]
    except ConfigError as exc:
        problems = exc.problems
    if option.secret:
        problems = [problem.replace(text, "***") for problem in problems]
    raise ConfigError([f"{where}: {mask(problem)}" for problem in problems])


def _stray_variables(known: list[Option], environ: Mapping[str, str]) -> list[str]:
    """WARUNG_ variables that are no option: reported, not refused (the shell is shared)."""
    names = {option.env for option in known} | {ENV_PREFIX + CONFIG_KEY.upper()}
    strays = sorted(
        name for name in environ if name.startswith(ENV_PREFIX) and name not in names | NOT_OPTIONS
    )
    warnings = []
    for name in strays:
        close = difflib.get_close_matches(name, sorted(names), n=1)
        hint = f" (did you mean ${close[0]}?)" if close else ""
        warnings.append(f"ignoring ${name}: no option has that name{hint}")
    return warnings


def render(settings: list[Setting]) -> list[str]:
    """The effective configuration as aligned lines: key, value (secrets masked), source."""
    rows = [(s.key, _shown(s), s.source) for s in settings]
    key_width = max(len(key) for key, _, _ in rows)
    value_width = max(len(value) for _, value, _ in rows)
    return [f"{key:<{key_width}}  {value:<{value_width}}  {source}" for key, value, source in rows]


def _shown(setting: Setting) -> str:
    value = setting.value
    if value is None:
        return "(unset)"
    if is_secret(setting.key):
        return "***"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + mask(value).replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_shown(Setting(setting.key, item, "")) for item in value) + "]"
    if isinstance(value, dict):
        return "{}" if not value else str(value)
    return mask(str(value))
