"""Which ops the shell completes and lists: those the server offers (PROTOCOL.md 12.1)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from protocol.ops import REGISTRY


def offered_ops(hello: Mapping[str, Any]) -> list[str]:
    """The ops of `hello`'s `ops` that this shell knows, sorted; every op of the registry
    when there is none (an older server, or no hello yet)."""
    ops = hello.get("ops")
    if not isinstance(ops, list):
        return sorted(REGISTRY)
    return sorted(op for op in ops if op in REGISTRY)
