"""Cursors of paged listings (PROTOCOL.md section 11.10), opaque to clients.

A cursor holds the position of the last item sent (its sort key) and a digest of that
position with the listing it came from (the arguments and, where the listing depends on
it, the user). The next page starts right after that item; a cursor that is damaged or
brought to another listing does not match its digest and is refused with `bad_request`
rather than misread.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from protocol.codec import packb, unpackb
from protocol.errors import BadRequest

VERSION = 1
Position = str | int


def encode_cursor(scope: str, *position: Position) -> str:
    """The cursor for the page after `position` in the listing `scope` names."""
    raw = packb([VERSION, _digest(scope, position), *position])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, scope: str, shape: tuple[type, ...]) -> tuple[Any, ...]:
    """The position a cursor of the listing `scope` holds, its items of these types."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        version, digest, *position = unpackb(raw)
        if version != VERSION or tuple(type(item) for item in position) != shape:
            raise ValueError(cursor)
    except Exception:  # base64, msgpack and unpacking fail in several unrelated types
        raise BadRequest(
            "not a cursor from this listing", {"field": "cursor", "rule": "invalid"}
        ) from None
    if digest != _digest(scope, tuple(position)):
        raise BadRequest(
            "this cursor is damaged or belongs to another listing: start from the first page",
            {"field": "cursor", "rule": "other listing"},
        )
    return tuple(position)


def _digest(scope: str, position: tuple[Position, ...]) -> str:
    return hashlib.sha256(packb([scope, *position])).hexdigest()[:12]
