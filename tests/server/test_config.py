"""serve's configuration: every option by flag, $WARUNG_..., the TOML file or its default,
in that order; each bad value refused with its key named (server/config.py)."""

from __future__ import annotations

import argparse
import json
import re
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from server.cli import build_parser, serve_args, serve_parser
from server.config import Settled, render, settle
from server.config_options import (
    CheckingParser,
    ConfigError,
    Kind,
    Option,
    options,
    suppress_defaults,
)
from server.limits import Limits

# Values to try on an option when its type is too particular for the generic ones below;
# an option none of them suits fails test_every_option_is_settable_by_file_and_by_env.
SAMPLES: dict[str, list[Any]] = {"limit": [{"max_in_flight": 7}]}
NUMBERS: list[Any] = [3, 2.5]
TEXTS = ["sample", "127.0.0.2", "10.0.0.0/8", "sqlite:///sample.db", "json"]


def toml(values: dict[str, Any]) -> str:
    """A TOML document of `values`: scalars and arrays first, then the tables."""
    plain = [f"{key} = {literal(value)}" for key, value in values.items() if not is_table(value)]
    tables = [
        f"[{key}]\n" + "".join(f"{name} = {literal(item)}\n" for name, item in value.items())
        for key, value in values.items()
        if is_table(value)
    ]
    return "\n".join(plain) + "\n" + "\n".join(tables)


def is_table(value: Any) -> bool:
    return isinstance(value, dict)


def literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(literal(item) for item in value) + "]"
    return json.dumps(value) if isinstance(value, str) else repr(value)


def env_text(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, dict):
        return ",".join(f"{name}={item}" for name, item in value.items())
    if isinstance(value, list):
        return ",".join(env_text(item) for item in value)
    return str(value)


def flag_argv(option: Option, value: Any) -> list[str]:
    if option.kind is Kind.SWITCH:
        return [option.flag] if value != option.default else []
    if option.kind is Kind.TABLE:
        return [f"{option.flag}={name}={item}" for name, item in value.items()]
    items = value if option.kind is Kind.LIST else [value]
    return [f"{option.flag}={item}" for item in items]


def given(build: Callable[[], CheckingParser], *argv: str) -> argparse.Namespace:
    parser = build()
    suppress_defaults(parser)
    return parser.parse_args(list(argv))


def settled(
    tmp_path: Path,
    file: dict[str, Any] | None = None,
    env: dict[str, str] | None = None,
    argv: tuple[str, ...] = (),
    build: Callable[[], CheckingParser] = serve_parser,
) -> Settled:
    environ = dict(env or {})
    if file is not None:
        path = tmp_path / "warung.toml"
        path.write_text(toml(file))
        environ["WARUNG_CONFIG"] = str(path)
    return settle(build, given(build, *argv), environ)


def source(result: Settled, key: str) -> str:
    return next(s.source for s in result.settings if s.key == key)


def sample(option: Option, build: Callable[[], CheckingParser]) -> tuple[Any, Any]:
    """A value of `option` unlike its default, as TOML gives it, and what the flag makes of it."""
    if option.kind is Kind.SWITCH:
        return not option.default, not option.default
    action = next(a for a in build()._actions if a.dest == option.key)
    candidates = SAMPLES.get(option.key) or list(action.choices or [])
    candidates = candidates or (NUMBERS if option.number else TEXTS)
    for candidate in candidates:
        value = [candidate] if option.kind is Kind.LIST else candidate
        try:
            parsed = getattr(given(build, *flag_argv(option, value)), option.key)
        except (ConfigError, argparse.ArgumentError):
            continue
        if parsed != option.default:
            return value, parsed
    raise AssertionError(f"no sample value suits {option.flag}: add one to SAMPLES")


def test_every_option_of_serve_has_a_key_and_a_variable():
    keys = {option.key: option.env for option in options(serve_parser())}
    assert keys["db"] == "WARUNG_DB"  # the variable every warung-server command has read
    assert keys["metrics_port"] == "WARUNG_METRICS_PORT"
    assert keys["limit"] == "WARUNG_LIMIT"
    assert "config" not in keys, "--config says where the file is; it is no key of the file"
    flags = {a.dest for a in serve_parser()._actions if a.option_strings} - {"help", "config"}
    assert set(keys) == flags


@pytest.mark.parametrize("option", options(serve_parser()), ids=lambda option: option.key)
def test_every_option_is_settable_by_file_and_by_env(option: Option, tmp_path: Path):
    value, expected = sample(option, serve_parser)

    by_file = settled(tmp_path, file={option.key: value})
    by_env = settled(tmp_path, env={option.env: env_text(value)})

    assert getattr(by_file.namespace, option.key) == expected
    assert getattr(by_env.namespace, option.key) == expected
    keys = [s.key for s in by_file.settings if s.source.startswith("file")]
    assert keys and all(key.split(".")[0] == option.key for key in keys)
    assert all(s.source != f"env {option.env}" for s in by_file.settings)
    assert any(s.source == f"env {option.env}" for s in by_env.settings)


def later_parser() -> CheckingParser:
    """serve's parser with options such as other engineers are adding, to show they need
    nothing from server/config.py."""
    parser = serve_parser()
    parser.add_argument("--colour", choices=("text", "json"), default="text")
    parser.add_argument("--allow-from", action="append", default=[], metavar="ADDRESS")
    parser.add_argument("--quiet", action=argparse.BooleanOptionalAction, default=False)
    return parser


@pytest.mark.parametrize("key", ["colour", "allow_from", "quiet"])
def test_an_option_added_to_the_parser_is_configurable_with_no_code(key: str, tmp_path: Path):
    option = next(option for option in options(later_parser()) if option.key == key)
    value, expected = sample(option, later_parser)

    by_file = settled(tmp_path, file={key: value}, build=later_parser)
    by_env = settled(tmp_path, env={option.env: env_text(value)}, build=later_parser)

    assert getattr(by_file.namespace, key) == expected != option.default
    assert getattr(by_env.namespace, key) == expected


def test_an_option_with_no_toml_form_is_refused_when_the_parser_is_built():
    parser = serve_parser()
    parser.add_argument("--verbose", "-v", action="count", default=0)
    with pytest.raises(TypeError, match="--verbose"):
        options(parser)


def test_precedence_is_flag_then_env_then_file_then_default(tmp_path: Path):
    file = {"port": 7500, "host": "0.0.0.0", "metrics_port": 9100}
    env = {"WARUNG_PORT": "7600", "WARUNG_HOST": "127.0.0.9"}

    result = settled(tmp_path, file=file, env=env, argv=("--port=7700",))

    args = result.namespace
    assert (args.port, source(result, "port")) == (7700, "flag --port")
    assert (args.host, source(result, "host")) == ("127.0.0.9", "env WARUNG_HOST")
    assert args.metrics_port == 9100
    assert source(result, "metrics_port") == f"file {tmp_path / 'warung.toml'}"
    assert (args.payment_delay, source(result, "payment_delay")) == (0.0, "default")
    without_flag = settled(tmp_path, file=file, env=env).namespace
    assert without_flag.port == 7600
    assert settled(tmp_path, file=file).namespace.port == 7500
    assert settled(tmp_path).namespace.port == 7411


def test_limits_merge_name_by_name_across_the_layers(tmp_path: Path):
    file = {"limit": {"max_in_flight": 1, "burst": 2, "rate_per_s": 3}}
    env = {"WARUNG_LIMIT": "burst=20, rate_per_s=30"}

    result = settled(tmp_path, file=file, env=env, argv=("--limit", "rate_per_s=300"))

    assert result.namespace.limit == ["max_in_flight=1", "burst=20", "rate_per_s=300"]
    assert source(result, "limit.max_in_flight").startswith("file ")
    assert source(result, "limit.burst") == "env WARUNG_LIMIT"
    assert source(result, "limit.rate_per_s") == "flag --limit"


def test_a_list_from_a_higher_layer_replaces_the_lower_one(tmp_path: Path):
    file = {"allow_from": ["10.0.0.1", "10.0.0.2"]}
    result = settled(
        tmp_path, file=file, env={"WARUNG_ALLOW_FROM": "10.0.0.3, 10.0.0.4"}, build=later_parser
    )
    assert result.namespace.allow_from == ["10.0.0.3", "10.0.0.4"]
    flagged = settled(tmp_path, file=file, argv=("--allow-from=10.0.0.5",), build=later_parser)
    assert flagged.namespace.allow_from == ["10.0.0.5"]


def test_a_switch_set_in_the_file_can_be_turned_off_by_the_environment(tmp_path: Path):
    assert settled(tmp_path, file={"demo": True}).namespace.demo is True
    assert (
        settled(tmp_path, file={"demo": True}, env={"WARUNG_DEMO": "off"}).namespace.demo is False
    )
    assert settled(tmp_path, env={"WARUNG_DEMO": "Yes"}).namespace.demo is True


def test_an_empty_variable_counts_as_unset(tmp_path: Path):
    result = settled(tmp_path, file={"port": 7500}, env={"WARUNG_PORT": ""})
    assert result.namespace.port == 7500


def test_the_config_flag_beats_warung_config(tmp_path: Path):
    chosen, other = tmp_path / "chosen.toml", tmp_path / "other.toml"
    chosen.write_text("port = 7001\n")
    other.write_text("port = 7002\n")
    result = settle(
        serve_parser, given(serve_parser, f"--config={chosen}"), {"WARUNG_CONFIG": str(other)}
    )
    assert result.namespace.port == 7001
    assert result.namespace.config == str(chosen)
    assert source(result, "config") == "flag --config"


def test_serve_args_makes_the_namespace_serve_gets(tmp_path: Path):
    (tmp_path / "w.toml").write_text('host = "0.0.0.0"\n[limit]\nburst = 9\n')
    environ = {"WARUNG_DB": "sqlite:///env.db", "WARUNG_PORT": "7009"}

    args = serve_args(["--config", str(tmp_path / "w.toml"), "--demo"], environ)

    assert (args.db, args.host, args.port, args.demo) == ("sqlite:///env.db", "0.0.0.0", 7009, True)
    assert args.limit == ["burst=9"] and args.tls_cert is None and args.payment_delay == 0.0


def problems(tmp_path: Path, text: str | None = None, **env: str) -> list[str]:
    environ = dict(env)
    if text is not None:
        (tmp_path / "w.toml").write_text(text)
        environ["WARUNG_CONFIG"] = str(tmp_path / "w.toml")
    with pytest.raises(ConfigError) as refused:
        serve_args([], environ)
    return refused.value.problems


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('host = "a"\nprot = 7411\n', "w.toml:2: prot: unknown key (did you mean 'port'?)"),
        (
            "metrics-port = 9100\n",
            "w.toml:1: metrics-port: unknown key (did you mean 'metrics_port'?)",
        ),
        ('config = "other.toml"\n', "w.toml:1: config: a configuration file cannot name another"),
        ("[limits]\nburst = 1\n", "w.toml:1: limits: unknown key (did you mean 'limit'?)"),
        ('port = "7411"\n', "w.toml:1: port: expected a number, not a string ('7411')"),
        ("host = 1\n", "w.toml:1: host: expected a string, not an integer (1)"),
        ('demo = "yes"\n', "w.toml:1: demo: expected true or false, not a string ('yes')"),
        ("payment_delay = 1979-05-27\n", "payment_delay: expected a number, not a date or time"),
        ("limit = 5\n", "w.toml:1: limit: expected a table [limit], not an integer (5)"),
        ("\n\nport = 70000\n", "w.toml:3: port: '70000' is not a port number (0 to 65535)"),
        ("port = 7411.5\n", "w.toml:1: port: '7411.5' is not a port number"),
        ("[limit]\nburst = 1\nheartbet_s = 3\n", "w.toml:3: limit.heartbet_s: unknown limit"),
        ("[limit]\nburst = true\n", "w.toml:2: limit.burst: expected a number or a string"),
        ("[limit]\nburst = 'x'\n", "w.toml:2: limit.burst: limit burst needs a number, not 'x'"),
        ("[limit]\nmax_in_flight = -1\n", "limit max_in_flight needs a number of 1 or more"),
        ("[limit]\nheartbeat_s = -30\n", "limit heartbeat_s needs a number of 1 or more"),
        ("[limit]\npaused_close_s = nan\n", "limit paused_close_s needs a number more than 0"),
        (
            "[limit]\nburst = 9\nheartbeat_s = 0\n",
            "w.toml:3: limit.heartbeat_s: limit heartbeat_s needs a number of 1 or more, not '0'",
        ),
        (
            "[limit]\nmax_connections = 0\n",
            "w.toml:2: limit.max_connections: limit max_connections needs a number of 1 or more",
        ),
        (
            "payment_delay = -5\n",
            "w.toml:1: payment_delay: '-5' is not a number of seconds (0 or more)",
        ),
        ("port = 74 11\n", "w.toml:1: port: not valid TOML: "),
        ("port = 7411\nport = 7412\n", "w.toml:2: port: not valid TOML: Cannot overwrite a value"),
        ('tls_key = "key.pem"\n', "tls_key: --tls-key needs --tls-cert"),
        ('db = "mysql://root@localhost/shop"\n', "db: unsupported database URL scheme 'mysql'"),
    ],
)
def test_a_bad_file_is_refused_naming_the_key(tmp_path: Path, text: str, expected: str):
    found = problems(tmp_path, text)
    assert any(expected in problem for problem in found), found


def test_every_problem_of_the_file_is_told_at_once(tmp_path: Path):
    found = problems(tmp_path, 'prot = 1\nhost = 2\n[limit]\nburst = "x"\n')
    assert [problem.split(": ")[1] for problem in found] == ["prot", "host", "limit.burst"]


def test_an_unreadable_or_undecodable_file_is_refused(tmp_path: Path):
    missing = problems(tmp_path, WARUNG_CONFIG=str(tmp_path / "none.toml"))
    assert missing == [
        f"cannot read the configuration file {tmp_path / 'none.toml'}: No such file or directory"
    ]
    (tmp_path / "latin1.toml").write_bytes(b'host = "caf\xe9"\n')
    latin1 = problems(tmp_path, WARUNG_CONFIG=str(tmp_path / "latin1.toml"))
    assert latin1 == [f"{tmp_path / 'latin1.toml'}: the configuration file is not UTF-8 text"]


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("WARUNG_PORT", "99999", "$WARUNG_PORT (port): '99999' is not a port number"),
        ("WARUNG_METRICS_PORT", "x", "$WARUNG_METRICS_PORT (metrics_port): 'x' is not a port"),
        ("WARUNG_DEMO", "maybe", "$WARUNG_DEMO (demo): expected 1/true/yes/on or 0/false/no/off"),
        ("WARUNG_LIMIT", "burst=1,nope=2", "$WARUNG_LIMIT (limit.nope): unknown limit 'nope'"),
        ("WARUNG_PAYMENT_DELAY", "soon", "$WARUNG_PAYMENT_DELAY (payment_delay): 'soon' is not"),
        (
            "WARUNG_PAYMENT_DELAY",
            "-5",
            "$WARUNG_PAYMENT_DELAY (payment_delay): '-5' is not a number of seconds (0 or more)",
        ),
        (
            "WARUNG_LIMIT",
            "burst=9,max_in_flight=0",
            "$WARUNG_LIMIT (limit.max_in_flight): limit max_in_flight needs a number of 1 or more, "
            "not '0'",
        ),
        ("WARUNG_DB", "mysql://root@h/shop", "db: unsupported database URL scheme"),
    ],
)
def test_a_bad_variable_is_refused_naming_it(tmp_path: Path, name: str, value: str, expected: str):
    found = problems(tmp_path, **{name: value})
    assert any(expected in problem for problem in found), found


def test_a_bad_flag_is_refused_by_serve_args():
    with pytest.raises(ConfigError, match="argument --port: 'x' is not a port number"):
        serve_args(["--port", "x"], {})
    with pytest.raises(ConfigError, match="unrecognized arguments: --prot"):
        serve_args(["--prot", "1"], {})
    with pytest.raises(
        ConfigError,
        match="argument --limit: limit heartbeat_s needs a number of 1 or more, not '0'",
    ):
        serve_args(["--limit", "heartbeat_s=0"], {})
    with pytest.raises(
        ConfigError, match=r"argument --payment-delay: '-5' is not a number of seconds \(0 or more"
    ):
        serve_args(["--payment-delay", "-5"], {})
    assert serve_args(["--payment-delay", "0.5"], {}).payment_delay == 0.5


def test_stray_warung_variables_are_warned_about_and_those_of_tests_and_clients_ignored(
    tmp_path: Path,
):
    environ = {"WARUNG_PROT": "1", "WARUNG_TEST_PG": "x", "WARUNG_PASSWORD": "x"}
    environ |= {"WARUNG_REQUIRE_PG": "1", "WARUNG_PORT": "7001"}
    result = settle(serve_parser, given(serve_parser), environ)
    assert result.warnings == [
        "ignoring $WARUNG_PROT: no option has that name (did you mean $WARUNG_PORT?)"
    ]
    assert result.namespace.port == 7001


def test_the_effective_configuration_shows_each_key_its_value_and_source_without_secrets(
    tmp_path: Path,
):
    file = {"db": "postgresql://shop:hunter22@db.internal/warung", "limit": {"burst": 9}}
    result = settled(tmp_path, file=file, env={"WARUNG_PORT": "7001"})

    lines = {line.split()[0]: line.split()[1:] for line in render(result.settings)}

    assert lines["db"] == [
        '"postgresql://shop:***@db.internal/warung"',
        "file",
        str(tmp_path / "warung.toml"),
    ]
    assert lines["port"] == ["7001", "env", "WARUNG_PORT"]
    assert lines["limit.burst"] == ["9", "file", str(tmp_path / "warung.toml")]
    assert lines["demo"] == ["false", "default"]
    assert lines["tls_cert"] == ["(unset)", "default"]
    assert "hunter22" not in "\n".join(render(result.settings))


def test_a_password_is_masked_in_an_error_too(tmp_path: Path):
    found = problems(tmp_path, 'db = "postgresql://shop:hunter22@db:port/warung"\n')
    assert found and "hunter22" not in "\n".join(found) and "shop:***@" in found[0]


EXAMPLE = Path(__file__).parents[2] / "deploy" / "warung.toml"


def test_the_example_file_is_valid_and_mentions_every_option(tmp_path: Path):
    commented = re.compile(r"^# (\w+ = .*)$", re.MULTILINE)
    everything = commented.sub(r"\1", EXAMPLE.read_text())
    (tmp_path / "all.toml").write_text(everything)

    for path in (EXAMPLE, tmp_path / "all.toml"):
        serve_args(["--config", str(path)], {})

    mentioned = set(tomllib.loads(everything))
    missing = {option.key for option in options(serve_parser())} - mentioned
    assert not missing, f"deploy/warung.toml should show these keys (commented): {missing}"
    limits = tomllib.loads(everything)["limit"]
    assert limits == {name: getattr(Limits(), name) for name in limits}, "the defaults"
    assert serve_args(["--config", str(tmp_path / "all.toml")], {}).limit == [
        f"{name}={value}" for name, value in limits.items()
    ]


def secret_parser() -> CheckingParser:
    parser = serve_parser()
    parser.add_argument("--metrics-token", choices=("alpha-secret", "beta-secret"))
    return parser


def test_a_key_named_as_a_secret_is_never_shown(tmp_path: Path):
    shown = render(
        settled(tmp_path, file={"metrics_token": "alpha-secret"}, build=secret_parser).settings
    )
    assert any(line.split()[:2] == ["metrics_token", "***"] for line in shown)
    assert "alpha-secret" not in "\n".join(shown)
    for value in ("gamma-secret", 12345):
        with pytest.raises(ConfigError) as refused:
            settled(tmp_path, file={"metrics_token": value}, build=secret_parser)
        assert str(value) not in str(refused.value) and "metrics_token" in str(refused.value)


def subcommand(parser: argparse.ArgumentParser, *path: str) -> argparse.ArgumentParser:
    for name in path:
        commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = commands.choices[name]
    return parser


@pytest.mark.parametrize("path", [("serve",), ("config", "check")], ids=" ".join)
def test_serve_and_config_check_take_exactly_the_configurable_options(path: tuple[str, ...]):
    """An option added to `serve` in build_parser, not in add_serve_options, fails here."""
    command = subcommand(build_parser(), *path)
    flags = {a.dest: a.default for a in command._actions if a.option_strings and a.dest != "help"}
    assert set(flags) == {a.dest for a in serve_parser()._actions if a.option_strings} - {"help"}
    assert all(default == argparse.SUPPRESS for default in flags.values()), flags
