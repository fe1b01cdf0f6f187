"""PROTOCOL.md stays true to `protocol/`.

- every op has a heading of its own, and every error code and event name is in the text;
- every op's section states its roles and has an argument table that matches the op's schema
  (names, types, required, defaults, bounds), rendered by `describe_args` below;
- every ```hex block of the worked session is one frame that decodes to the ```json block that
  follows it, and is exactly what `protocol.framing.encode` makes of that value;
- the bytes section 4.1 quotes are what it says they are, every `$timestamp` has the form
  section 17 states, and the limits the doc shows are the server's defaults.

What the doc says of a live server's closes and cursors: `test_protocol_doc_live.py`.
"""

from __future__ import annotations

import json
import re
import struct
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from protocol import rules
from protocol.codec import packb, unpackb
from protocol.envelope import parse_request
from protocol.errors import BadRequest, ErrorCode
from protocol.framing import FrameDecoder, Message, encode
from protocol.ops import ADMIN, ANYONE, CLERK, CUSTOMER, REGISTRY, SIGNED_IN, EventName
from protocol.schema import (
    NO_CONTROLS,
    SECRET_CONTROLS,
    TEXT_CONTROLS,
    Bool,
    Day,
    Int,
    ListOf,
    Record,
    Str,
    Timestamp,
    Type,
    VersionSpec,
)
from server.limits import Limits
from tests.protocol.jsonform import to_json

DOC_PATH = Path(__file__).resolve().parents[2] / "PROTOCOL.md"
VECTORS_PATH = DOC_PATH.parent / "protocol" / "testvectors.json"
DOC = DOC_PATH.read_text(encoding="utf-8")
LINES = DOC.splitlines()

ROLE_TEXT = {
    ANYONE: "anyone, also before signing in",
    SIGNED_IN: "signed in, any role",
    CUSTOMER: "customer",
    CLERK: "clerk",
    rules.STAFF_ROLES: "clerk or admin",
    ADMIN: "admin",
}
ARG_HEADER = "| argument | type | required | default | bounds | meaning |"
NO_ARGS = "Arguments: none."
CONTROLS_TEXT = {
    NO_CONTROLS: "",
    TEXT_CONTROLS: ", tab and line breaks allowed",
    SECRET_CONTROLS: ", any control character but NUL",
}


# -- the canonical rendering of schemas (also used to write the tables)


def number(n: int) -> str:
    """A bound as the doc writes it: powers of two and ten by their exponent."""
    if n < 0:
        return "-" + number(-n)
    if n >= 2**16 and n & (n - 1) == 0:
        return f"2^{n.bit_length() - 1}"
    if n >= 2**16 and (n + 1) & n == 0:
        return f"2^{n.bit_length()}-1"
    if n >= 10**6 and str(n).rstrip("0") == "1":
        return f"10^{len(str(n)) - 1}"
    return str(n)


def describe_type(t: Type) -> tuple[str, str]:
    """(type column, bounds column) for a field type."""
    if isinstance(t, Int):
        bounds = f"{number(t.min)} to {number(t.max)}"
        return "int", bounds + (", not 0" if t.nonzero else "")
    if isinstance(t, Str):
        if t.choices is not None:
            return "str", "one of " + ", ".join(f"`{c}`" for c in t.choices)
        if t.min_len == t.max_len:
            bounds = f"exactly {t.min_len} chars"
        else:
            bounds = f"{t.min_len} to {t.max_len} chars"
        bounds += f", matches `{t.pattern}`" if t.pattern else ""
        return "str", bounds + CONTROLS_TEXT.get(t.controls, "")
    if isinstance(t, Bool):
        return "bool", "-" if t.only is None else f"only `{str(t.only).lower()}`"
    if isinstance(t, Day):
        return "str", "a day `YYYY-MM-DD`"
    if isinstance(t, Timestamp):
        return "timestamp", "-"
    if isinstance(t, VersionSpec):
        return "int or [int, int]", f"each 0 to {number(t.max)}; min <= max"
    if isinstance(t, ListOf):
        item_type, item_bounds = describe_type(t.item)
        bounds = f"{t.min_len} to {t.max_len} items" + (", no repeats" if t.unique else "")
        if not isinstance(t.item, Record):
            bounds += f"; each {item_bounds}"
        return f"list of {item_type}", bounds
    if isinstance(t, Record):
        return "map", "-"
    raise AssertionError(f"no rendering for {t!r}")


def describe_default(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, int):
        return f"`{value}`"
    return f"`{json.dumps(value)}`"


def describe_args(record: Record, prefix: str = "") -> dict[str, tuple[str, str, str, str]]:
    """path -> (type, required, default, bounds) for every field, nested ones included."""
    groups = {name: group for group in record.one_of for name in group}
    rows: dict[str, tuple[str, str, str, str]] = {}
    for field in record.fields:
        path = prefix + field.name
        type_text, bounds = describe_type(field.type)
        if field.required:
            required = "yes"
        elif field.name in groups:
            required = "one of " + " or ".join(f"`{prefix}{n}`" for n in groups[field.name])
        else:
            required = "no"
        rows[path] = (type_text, required, describe_default(field.default), bounds)
        inner = field.type.item if isinstance(field.type, ListOf) else field.type
        if isinstance(inner, Record):
            sub = f"{path}[]." if isinstance(field.type, ListOf) else f"{path}."
            rows.update(describe_args(inner, sub))
    return rows


# -- reading the doc


def headings() -> list[tuple[int, int, str]]:
    """(line index, level, text) of every heading outside fenced blocks."""
    found, fenced = [], False
    for i, line in enumerate(LINES):
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and (m := re.match(r"(#{1,6}) (.+)", line)):
            found.append((i, len(m.group(1)), m.group(2)))
    return found


def section(code: str) -> str:
    """The text under the heading that names `code` in a code span, up to the next heading
    of the same or a higher level."""
    hs = headings()
    for n, (start, level, text) in enumerate(hs):
        if f"`{code}`" in text:
            end = next((i for i, lv, _ in hs[n + 1 :] if lv <= level), len(LINES))
            return "\n".join(LINES[start:end])
    raise AssertionError(f"PROTOCOL.md has no heading for `{code}`")


def code_spans() -> set[str]:
    return set(re.findall(r"`([^`\n]+)`", DOC))


def arg_table(text: str) -> dict[str, tuple[str, ...]]:
    lines = text.splitlines()
    assert lines.count(ARG_HEADER) == 1, "one argument table per op section"
    start = lines.index(ARG_HEADER) + 2  # skip the |---| row
    rows: dict[str, tuple[str, ...]] = {}
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip("|").split("|")]
        name = re.fullmatch(r"`([^`]+)`", cells[0])
        assert name, f"argument cell is not a code span: {line}"
        rows[name.group(1)] = tuple(cells[1:5])
    return rows


# -- every name is there


@pytest.mark.parametrize("op", sorted(REGISTRY))
def test_every_op_has_its_own_heading(op):
    assert any(f"`{op}`" == text.strip() for _, _, text in headings()), op


@pytest.mark.parametrize("code", [str(c) for c in ErrorCode])
def test_every_error_code_is_named(code):
    assert code in code_spans()


@pytest.mark.parametrize("event", [str(e) for e in EventName])
def test_every_event_has_its_own_heading(event):
    assert any(f"`{event}`" == text.strip() for _, _, text in headings()), event


# -- each op's section agrees with the registry


@pytest.mark.parametrize("op", sorted(REGISTRY))
def test_op_section_states_the_roles(op):
    roles = re.findall(r"^\*\*Role:\*\* (.+)$", section(op), re.M)
    assert roles == [ROLE_TEXT[REGISTRY[op].roles]]


@pytest.mark.parametrize("op", sorted(REGISTRY))
def test_op_section_names_every_argument(op):
    text = section(op)
    for path in describe_args(REGISTRY[op].args):
        assert f"`{path}`" in text, path


@pytest.mark.parametrize("op", sorted(REGISTRY))
def test_op_argument_table_matches_the_schema(op):
    text = section(op)
    expected = describe_args(REGISTRY[op].args)
    if not expected:
        assert NO_ARGS in text and ARG_HEADER not in text
        return
    assert arg_table(text) == expected


@pytest.mark.parametrize("op", sorted(REGISTRY))
def test_op_section_has_result_and_errors(op):
    text = section(op)
    assert "**Result:**" in text
    assert "**Errors:**" in text


def test_shared_rules_are_stated():
    for value in (
        "1048576",
        str(rules.MIN_CLIENT_MAX_FRAME),
        str(rules.DEFAULT_PORT),
        rules.USERNAME_RE.pattern[1:-1],
        f"{rules.PASSWORD_MIN} to {rules.PASSWORD_MAX}",
        "2^53",
    ):
        assert value in DOC, value
    assert rules.SUPPORTED_VERSIONS == (1, 1)
    assert "`[1, 1]`" in DOC


# -- the worked session


def from_json(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"$timestamp"}:
            return datetime.fromisoformat(value["$timestamp"])
        if set(value) == {"$bin"}:
            return bytes.fromhex(value["$bin"])
        return {k: from_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [from_json(v) for v in value]
    return value


def session_frames() -> list[tuple[bytes, Any]]:
    """Every ```hex block with the ```json block that follows it (blank lines between)."""
    blocks = re.findall(r"^```hex\n(.*?)^```\n\s*^```json\n(.*?)^```$", DOC, re.M | re.S)
    frames = []
    for hex_text, json_text in blocks:
        hex_digits = "".join(line.split("#", 1)[0] for line in hex_text.splitlines())
        frames.append((bytes.fromhex(hex_digits), json.loads(json_text)))
    return frames


def test_every_hex_block_is_paired_with_its_value():
    assert DOC.count("```hex\n") == len(session_frames())
    assert len(session_frames()) >= 5


@pytest.mark.parametrize("index", range(len(session_frames())))
def test_hex_block_decodes_to_the_stated_value(index):
    data, value = session_frames()[index]
    [event] = FrameDecoder().feed(data)
    assert isinstance(event, Message)
    assert to_json(event.body) == value
    assert encode(from_json(value)) == data, "not the encoding protocol.framing produces"


def test_session_is_a_valid_exchange():
    bodies = [from_json(value) for _, value in session_frames()]
    asked: dict[int, str] = {}
    answered = []
    for body in bodies:
        if "op" in body or "args" in body:
            request = parse_request(body)
            REGISTRY[request.op].args.check(request.args)
            asked[request.id] = request.op
        elif "event" in body:
            assert body["event"] in set(EventName)
        else:
            assert body["id"] in asked, "a reply answers a request sent before it"
            answered.append(asked[body["id"]])
            if not body["ok"]:
                assert body["error"]["code"] in set(ErrorCode)
    assert answered and answered[0] == "hello" and bodies[0]["op"] == "hello"
    assert {"auth.login", "catalog.get"} <= set(answered)
    assert any(b.get("event") == "stock" for b in bodies)
    assert any(b.get("ok") is False for b in bodies)
    hello = next(b for b in bodies if b.get("id") == bodies[0]["id"] and "ok" in b)
    assert hello["result"]["limits"]["max_frame"] == rules.DEFAULT_MAX_FRAME
    assert hello["result"]["protocol"] == rules.PROTOCOL_VERSION
    assert hello["result"]["limits"] == Limits().to_wire(), "the server's default limits"


# -- section 4.1 and the `$timestamp` form of section 17


def hex_bytes(text: str) -> bytes:
    return bytes.fromhex(text.replace(" ", ""))


@pytest.mark.parametrize(
    ("quoted", "meaning"),
    [
        ("cb 43 40 00 00 00 00 00 00", b"\xcb" + struct.pack(">d", 2.0**53)),
        ("cf 00 20 00 00 00 00 00 00", packb(2**53)),
        ("cb 41 f0 00 00 00 00 00 00", b"\xcb" + struct.pack(">d", 2.0**32)),
        ("cf 00 20 00 00 00 00 00 01", packb(2**53 + 1)),
        ("d7 ff 4b ef d1 c0 6b 00 0f 0c", packb(datetime(2026, 11, 20, 9, 12, 44, 318502, UTC))),
    ],
)
def test_library_pitfalls_quote_true_bytes(quoted, meaning):
    assert f"`{quoted}`" in section_text("4.1 Pitfalls of msgpack libraries")
    assert hex_bytes(quoted) == meaning


def test_a_float_id_is_answered_with_id_nil():
    """Section 4.1: the server cannot tell which request a float `id` belongs to."""
    with pytest.raises(BadRequest) as refused:
        parse_request(unpackb(packb({"id": 2.0**53, "op": "ping"})))
    assert refused.value.request_id is None


TIMESTAMP_FORM = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?\+00:00")


def all_timestamps() -> list[str]:
    """The `$timestamp` texts of the test vectors and of the worked session."""
    texts = [VECTORS_PATH.read_text(encoding="utf-8")]
    texts += [json.dumps(value) for _, value in session_frames()]
    return [t for text in texts for t in re.findall(r'"\$timestamp": "([^"]+)"', text)]


def test_timestamps_have_the_stated_form():
    stamps = all_timestamps()
    assert any("." in t for t in stamps) and any("." not in t for t in stamps)
    for text in stamps:
        assert TIMESTAMP_FORM.fullmatch(text), text
        assert datetime.fromisoformat(text).isoformat() == text, "Python's isoformat"
    assert "6 fraction digits (microseconds) unless the fraction is 0" in DOC


def section_text(title: str) -> str:
    """The text under the heading `title`, up to the next heading of its level or higher."""
    hs = headings()
    for n, (start, level, text) in enumerate(hs):
        if text == title:
            end = next((i for i, lv, _ in hs[n + 1 :] if lv <= level), len(LINES))
            return "\n".join(LINES[start:end])
    raise AssertionError(f"PROTOCOL.md has no heading {title!r}")
