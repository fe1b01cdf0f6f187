"""`\\help`: the op list and one op's arguments, both read from the protocol's REGISTRY
(the list only of the ops the server offers: `client_shell.offered`)."""

from __future__ import annotations

import textwrap

from protocol.ops import REGISTRY, SIGNED_IN, OpSpec
from protocol.schema import Field, ListOf, Record

DEFAULT_COLUMNS = 100
_KEEP = "\u00a0"  # a space textwrap does not break at
BUILTINS: dict[str, str] = {
    "\\login": "USER: sign in (password prompted, or from $WARUNG_PASSWORD)",
    "\\help": "[OP]: list the ops, or one op's arguments",
    "\\events": "on|off: print pushes as they arrive",
    "\\quit": "leave the shell (also Ctrl-D)",
}


def roles_text(spec: OpSpec) -> str:
    if not spec.roles:
        return "anyone"
    if spec.roles == SIGNED_IN:
        return "signed in"
    return ", ".join(sorted(spec.roles))


def ops_overview(ops: list[str], columns: int = DEFAULT_COLUMNS) -> str:
    """The `ops` (names of the registry) with their summaries, then the shell's commands; a
    line longer than `columns` goes on under its summary, broken between words."""
    width = max(len(name) for name in [*ops, *BUILTINS])
    lines = ["ops (OP key=value ...):"]
    for name in ops:
        spec = REGISTRY[name]
        roles = roles_text(spec).replace(" ", _KEEP)  # one word to wrap: "[signed in]"
        lines.append(f"  {name:<{width}}  {spec.summary} [{roles}]")
    lines.append("shell commands:")
    lines += [f"  {name:<{width}}  {text}" for name, text in BUILTINS.items()]
    lines.append("\\help OP shows an op's arguments.")
    return _wrapped(lines, columns, " " * (width + 4))


def op_help(spec: OpSpec, columns: int = DEFAULT_COLUMNS) -> str:
    lines = [f"{spec.name}: {spec.summary}", f"who: {roles_text(spec)}"]
    if not spec.args.fields:
        lines.append("no arguments")
        return "\n".join(lines)
    lines.append("arguments:")
    lines += _field_lines(spec.args, "  ", "")
    for group in spec.args.one_of:
        lines.append("give exactly one of: " + ", ".join(group))
    return _wrapped(lines, columns, "      ")


def _wrapped(lines: list[str], columns: int, indent: str) -> str:
    """Each line broken between words to fit `columns`, its rest indented by `indent`
    (a terminal would break it anywhere, mid-word, at its left edge)."""
    out: list[str] = []
    for line in lines:
        parts = textwrap.wrap(
            line,
            max(columns - 1, 20),
            subsequent_indent=indent,
            break_long_words=False,
            break_on_hyphens=False,
        )
        out += [part.replace(_KEEP, " ") for part in parts] or [line]
    return "\n".join(out)


def _field_lines(record: Record, indent: str, prefix: str) -> list[str]:
    lines = []
    for field in record.fields:
        name = prefix + field.name
        lines.append(f"{indent}{name}  {field.type.describe()}{_flags(field)}")
        nested = field.type.item if isinstance(field.type, ListOf) else field.type
        if isinstance(nested, Record):
            inner = f"{name}[]." if isinstance(field.type, ListOf) else f"{name}."
            lines += _field_lines(nested, indent + "  ", inner)
    return lines


def _flags(field: Field) -> str:
    parts = []
    if field.required:
        parts.append("required")
    if field.default is not None:
        parts.append(f"default {field.default!r}".replace("True", "true").replace("False", "false"))
    text = f" ({', '.join(parts)})" if parts else ""
    return text + (f": {field.doc}" if field.doc else "")
