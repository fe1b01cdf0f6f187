"""Cursors of paged listings (PROTOCOL.md section 11.10), opaque to clients.

A cursor holds the position of the last item sent (its sort key) and an HMAC-SHA256 tag of
that position with the listing it came from (the arguments and, where the listing depends
on it, the user), under the shop's secret cursor key. The next page starts right after
that item. Only this shop's servers can make a cursor that checks: a client cannot forge
one (to start a listing at a position of its choosing, or to smuggle an id the database
cannot hold), and a cursor that is damaged, brought to another listing or made by another
shop is refused with `bad_request` rather than misread. A position is also checked for
its shape, and its ints for the 64-bit range, before any of it is used.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from typing import Any

from protocol.codec import packb, unpackb
from protocol.errors import BadRequest

VERSION = 2  # 1 carried an unkeyed digest: such cursors are refused as invalid
TAG_BYTES = 16
KEY_BYTES = 32
INT_MIN, INT_MAX = -(2**63), 2**63 - 1
Position = str | int
BASE64URL = re.compile(r"[A-Za-z0-9_-]+")


class Cursors:
    """Makes and reads the cursors of one shop, signed with its key (`KEY_BYTES` random
    bytes that every server of the shop shares: `server.database.cursor_key`)."""

    def __init__(self, key: bytes) -> None:
        if len(key) < KEY_BYTES:
            raise ValueError(f"a cursor key needs {KEY_BYTES} bytes")
        self._key = key

    def encode(self, scope: str, *position: Position) -> str:
        """The cursor for the page after `position` in the listing `scope` names."""
        raw = packb([VERSION, self._tag(scope, position), *position])
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    def decode(self, cursor: str, scope: str, shape: tuple[type, ...]) -> tuple[Any, ...]:
        """The position a cursor of the listing `scope` holds, its items of these types."""
        version, tag, position = _unpack(cursor)
        if version != VERSION or not isinstance(tag, bytes) or not _fits(position, shape):
            raise _invalid()
        if not hmac.compare_digest(tag, self._tag(scope, position)):
            raise BadRequest(
                "this cursor was not issued for this listing (damaged, forged, from other"
                " arguments or another user): start again from the first page",
                {"field": "cursor", "rule": "not issued for this listing"},
            )
        return position

    def _tag(self, scope: str, position: tuple[Position, ...]) -> bytes:
        digest = hmac.new(self._key, packb([scope, *position]), hashlib.sha256).digest()
        return digest[:TAG_BYTES]


def _unpack(cursor: str) -> tuple[Any, Any, tuple[Any, ...]]:
    """A cursor's version, tag and position, unchecked."""
    try:
        if not BASE64URL.fullmatch(cursor):  # b64decode would skip other characters
            raise ValueError("not base64url")
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        version, tag, *position = unpackb(raw)
    except Exception:  # base64, msgpack and unpacking fail in several unrelated types
        raise _invalid() from None
    return version, tag, tuple(position)


def _fits(position: tuple[Any, ...], shape: tuple[type, ...]) -> bool:
    """Items of exactly these types (a bool is not an int), ints within 64 bits."""
    return tuple(type(item) for item in position) == shape and all(
        INT_MIN <= item <= INT_MAX for item in position if type(item) is int
    )


def _invalid() -> BadRequest:
    return BadRequest(
        "not a cursor of this listing: send back a next_cursor as it came, or leave it out",
        {"field": "cursor", "rule": "invalid"},
    )
