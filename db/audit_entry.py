"""What an audit log entry holds, for every writer of one: the server's ops
(`server.audit`) and the host's account commands (`db.accounts`).

Secrets never reach the log: `details` holding a password, token or TOTP secret under any
key, at any depth, is a bug in the caller and raises `ValueError`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

SECRET_KEYS = frozenset(
    {"password", "password_hash", "token", "token_hash", "totp", "totp_secret", "secret"}
)


def target_of(kind: str, id_: int) -> str:
    """What an entry names: `product:221`, `order:17`, `register:3`."""
    return f"{kind}:{id_}"


def details_json(details: Mapping[str, Any]) -> str:
    """`details` as the entry stores it (compact JSON), once checked to hold no secret."""
    _refuse_secrets(details)
    return json.dumps(details, separators=(",", ":"))


def _refuse_secrets(value: Any) -> None:
    if isinstance(value, Mapping):
        for key, inner in value.items():
            if key in SECRET_KEYS:
                raise ValueError(f"the audit log never keeps a secret ({key!r})")
            _refuse_secrets(inner)
    elif isinstance(value, list | tuple):
        for inner in value:
            _refuse_secrets(inner)
