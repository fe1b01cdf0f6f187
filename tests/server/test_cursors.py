"""The one cursor codec of paged listings: a cursor serves its own listing only, and any
damage to it is refused (PROTOCOL.md section 11.10), never read as another position."""

from __future__ import annotations

import string

import pytest

from protocol.errors import BadRequest
from server.cursors import decode_cursor, encode_cursor

ALPHABET = string.ascii_uppercase + string.ascii_lowercase + string.digits + "-_"


def test_a_cursor_gives_back_its_position_in_its_own_listing() -> None:
    cursor = encode_cursor("catalog|kopi", "kopi tubruk", 7)
    assert decode_cursor(cursor, "catalog|kopi", (str, int)) == ("kopi tubruk", 7)
    assert len(cursor) <= 512 and set(cursor) <= set(ALPHABET)


def test_a_cursor_of_another_listing_is_refused() -> None:
    cursor = encode_cursor("order.list|7|None", 41)
    with pytest.raises(BadRequest) as refused:
        decode_cursor(cursor, "order.list|8|None", (int,))
    assert refused.value.details == {"field": "cursor", "rule": "other listing"}


@pytest.mark.parametrize("position", [("kopi", 7), (123456,)])
def test_every_damaged_character_is_refused(position: tuple[str | int, ...]) -> None:
    shape = tuple(type(item) for item in position)
    cursor = encode_cursor("scope", *position)
    for at, char in enumerate(cursor):
        flipped = ALPHABET[ALPHABET.index(char) ^ 32]  # the character's top bit always counts
        damaged = cursor[:at] + flipped + cursor[at + 1 :]
        with pytest.raises(BadRequest) as refused:
            decode_cursor(damaged, "scope", shape)
        assert refused.value.details["field"] == "cursor", damaged


@pytest.mark.parametrize("cursor", ["not a cursor", "x", "AAAA", encode_cursor("s", 1)])
def test_what_is_not_a_cursor_of_this_shape_is_invalid(cursor: str) -> None:
    with pytest.raises(BadRequest) as refused:
        decode_cursor(cursor, "s", (str, int))
    assert refused.value.details == {"field": "cursor", "rule": "invalid"}
