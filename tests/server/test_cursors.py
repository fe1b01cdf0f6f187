"""The one cursor codec of paged listings: a cursor serves its own listing only, only this
shop's key makes one, and any damage to it is refused (PROTOCOL.md section 11.10), never
read as another position."""

from __future__ import annotations

import base64
import hashlib
import string
import threading

import peewee as pw
import pytest

from db.connect import connect, disconnect
from db.migrations import migrate
from protocol.codec import packb
from protocol.errors import BadRequest
from protocol.ops import CURSOR, PRODUCT_NAME
from server.cursors import INT_MAX, TAG_BYTES, Cursors
from server.database import cursor_key

ALPHABET = string.ascii_uppercase + string.ascii_lowercase + string.digits + "-_"
KEY = bytes(range(32))
CURSORS = Cursors(KEY)
NOT_ISSUED = {"field": "cursor", "rule": "not issued for this listing"}
INVALID = {"field": "cursor", "rule": "invalid"}


def refusal(cursor: str, scope: str, shape: tuple[type, ...]) -> dict[str, object]:
    with pytest.raises(BadRequest) as refused:
        CURSORS.decode(cursor, scope, shape)
    return refused.value.details


def forged(*items: object) -> str:
    """A cursor made by hand from the (public) format, with `items` after the version."""
    return base64.urlsafe_b64encode(packb(list(items))).decode().rstrip("=")


def test_a_cursor_gives_back_its_position_in_its_own_listing() -> None:
    cursor = CURSORS.encode("catalog|kopi", "kopi tubruk", 7)
    assert CURSORS.decode(cursor, "catalog|kopi", (str, int)) == ("kopi tubruk", 7)
    assert len(cursor) <= CURSOR.max_len and set(cursor) <= set(ALPHABET)


def test_a_cursor_of_another_listing_is_refused() -> None:
    cursor = CURSORS.encode("order.list|7|None", 41)
    assert refusal(cursor, "order.list|8|None", (int,)) == NOT_ISSUED


def test_a_cursor_signed_with_another_key_is_refused() -> None:
    foreign = Cursors(bytes(32)).encode("scope", 5)
    assert refusal(foreign, "scope", (int,)) == NOT_ISSUED


def test_a_cursor_forged_from_the_format_is_refused_whatever_its_tag() -> None:
    """Before the key, the tag was a plain hash anyone could compute for any position."""
    scope, position = "order.subscribe", [5]
    unkeyed = hashlib.sha256(packb([scope, *position])).hexdigest()[:12]
    assert refusal(forged(1, unkeyed, *position), scope, (int,)) == INVALID
    for tag in (bytes(TAG_BYTES), hashlib.sha256(packb([scope, 5])).digest()[:TAG_BYTES]):
        assert refusal(forged(2, tag, *position), scope, (int,)) == NOT_ISSUED


@pytest.mark.parametrize("position", [(2**63,), (2**64 - 1,), (True,), ("5",), (5, 6)])
def test_a_position_out_of_shape_or_past_64_bits_is_invalid(position: tuple) -> None:
    assert refusal(forged(2, bytes(TAG_BYTES), *position), "s", (int,)) == INVALID


@pytest.mark.parametrize("position", [("kopi", 7), (123456,)])
def test_every_damaged_character_is_refused(position: tuple[str | int, ...]) -> None:
    shape = tuple(type(item) for item in position)
    cursor = CURSORS.encode("scope", *position)
    for at, char in enumerate(cursor):
        flipped = ALPHABET[ALPHABET.index(char) ^ 32]  # the character's top bit always counts
        damaged = cursor[:at] + flipped + cursor[at + 1 :]
        with pytest.raises(BadRequest) as refused:
            CURSORS.decode(damaged, "scope", shape)
        assert refused.value.details["field"] == "cursor", damaged


@pytest.mark.parametrize("extra", ["\u00b2", "\u0661", " ", "=", "\n", "!"])
def test_a_character_outside_base64url_is_refused_not_skipped(extra: str) -> None:
    cursor = CURSORS.encode("s", 1)
    assert refusal(cursor[:4] + extra + cursor[4:], "s", (int,)) == INVALID


@pytest.mark.parametrize("cursor", ["not a cursor", "x", "AAAA", CURSORS.encode("s", 1)])
def test_what_is_not_a_cursor_of_this_shape_is_invalid(cursor: str) -> None:
    assert refusal(cursor, "s", (str, int)) == INVALID


def test_a_short_key_is_refused() -> None:
    with pytest.raises(ValueError):
        Cursors(b"short")


def test_the_key_is_made_once_and_kept(database: pw.Database) -> None:
    first = cursor_key(database)
    assert len(first) == 32 and first == cursor_key(database)


def test_servers_starting_at_once_agree_on_one_key(db_url: str) -> None:
    migrate_and_close(db_url)
    starting = 6
    keys: list[bytes] = []
    at_once = threading.Barrier(starting)

    def start() -> None:
        db = connect(db_url)
        try:
            at_once.wait(10)
            keys.append(cursor_key(db))
        finally:
            disconnect(db)

    threads = [threading.Thread(target=start) for _ in range(starting)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(keys) == starting and len(set(keys)) == 1


def migrate_and_close(url: str) -> None:
    db = connect(url)
    migrate(db)
    disconnect(db)


def test_the_cursor_after_the_longest_name_fits_the_cursor_argument() -> None:
    """A catalog page ending on a 200-character name of 4-byte characters still pages on."""
    name = "\U0001f35c" * PRODUCT_NAME.max_len
    cursor = CURSORS.encode("catalog|" + "x" * 64, name, INT_MAX)
    assert CURSOR.check(cursor, "cursor") == cursor
    assert CURSORS.decode(cursor, "catalog|" + "x" * 64, (str, int)) == (name, INT_MAX)
