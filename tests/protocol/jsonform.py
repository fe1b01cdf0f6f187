"""The JSON form of decoded values used by the test vectors and PROTOCOL.md's examples."""

from datetime import datetime
from typing import Any


def to_json(value: Any) -> Any:
    """bytes as {"$bin": hex}, timestamps as {"$timestamp": ISO-8601}, the rest as is."""
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_json(v) for v in value]
    if isinstance(value, bytes):
        return {"$bin": value.hex()}
    if isinstance(value, datetime):
        return {"$timestamp": value.isoformat()}
    return value
