"""How results, errors and pushes look on screen: pretty, deterministic JSON.

Keys are sorted so the same answer always prints the same way; bytes show as hex and
timestamps and dates as ISO 8601, since JSON has neither.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

from protocol.client import Push
from protocol.errors import WarungError


def plain(value: Any) -> Any:
    """`value` with every bytes, datetime, date and tuple turned into JSON types."""
    if isinstance(value, dict):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def render_value(value: Any) -> str:
    return json.dumps(plain(value), indent=2, sort_keys=True, ensure_ascii=False)


def render_error(error: WarungError) -> str:
    text = f"error {error.code}: {error.message}"
    if error.details:
        text += "\ndetails: " + render_value(error.details)
    return text


def render_push(push: Push) -> str:
    data = json.dumps(plain(push.data), sort_keys=True, ensure_ascii=False)
    return f"event {push.event} #{push.seq}: {data}"
