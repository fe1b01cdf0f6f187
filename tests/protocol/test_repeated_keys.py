"""PROTOCOL.md section 4: a map must not repeat a key, at any depth (a bad body, id nil)."""

from datetime import UTC, datetime
from typing import Any

import pytest

from protocol.codec import packb, unpackb_own
from protocol.errors import MalformedFrame
from protocol.framing import FrameDecoder, Message, frame

INT64_ID = b"\xd3" + (8).to_bytes(8, "big")  # the id 8, as a library writing int64 sends it


def mapping(*pairs: tuple[Any, bytes]) -> bytes:
    """A msgpack map written out pair by pair, so that it can repeat a key."""
    return bytes([0x80 | len(pairs)]) + b"".join(packb(key) + value for key, value in pairs)


def request(id_bytes: bytes, args: bytes) -> bytes:
    return mapping(("id", id_bytes), ("op", packb("cart.add")), ("args", args))


ARGS = mapping(("product_id", packb(3)), ("qty", packb(1)))
REPEATED = {
    "in the envelope": mapping(("id", packb(8)), ("op", packb("ping")), ("id", packb(9))),
    "in args": request(packb(8), mapping(("qty", packb(1)), ("qty", packb(2)))),
    "in a map in a list": mapping(
        ("id", packb(8)),
        ("op", packb("x")),
        ("args", b"\x91" + mapping(("a", packb(1)), ("a", packb(1)))),
    ),
    "with the same value": mapping(("id", packb(8)), ("op", packb("ping")), ("op", packb("ping"))),
    # not the shortest formats: checked by the slower way, to the same end
    "in args, with an int64 id": request(INT64_ID, mapping(("qty", packb(1)), ("qty", packb(2)))),
}


@pytest.mark.parametrize("body", REPEATED.values(), ids=REPEATED.keys())
def test_a_map_that_repeats_a_key_is_a_bad_body(body):
    decoder = FrameDecoder()
    malformed, after = decoder.feed(frame(body) + frame(packb({"ok": True})))
    assert isinstance(malformed, MalformedFrame)
    assert malformed.code == "bad_request" and malformed.details == {"reason": "msgpack"}
    assert "repeats the key" in malformed.message
    assert isinstance(after, Message) and after.body == {"ok": True}  # the stream is in step


@pytest.mark.parametrize("id_bytes", [packb(8), INT64_ID], ids=["shortest", "int64"])
def test_maps_without_a_repeated_key_decode_in_any_format(id_bytes):
    [event] = FrameDecoder().feed(frame(request(id_bytes, ARGS)))
    assert isinstance(event, Message)
    assert event.body == {"id": 8, "op": "cart.add", "args": {"product_id": 3, "qty": 1}}


def test_a_str_key_and_a_bin_key_of_the_same_bytes_are_two_keys():
    body = mapping(("id", packb(8)), (b"id", packb(9)))
    [event] = FrameDecoder().feed(frame(body))
    assert isinstance(event, Message) and event.body == {"id": 8, b"id": 9}


def test_bodies_between_a_servers_own_processes_are_decoded_without_the_check():
    result = {"at": datetime(2026, 11, 30, tzinfo=UTC), "n": [1]}
    sent = {"done": [[1, True, packb(result)]]}
    repeated = mapping(("id", packb(8)), ("id", packb(9)))
    decoder = FrameDecoder(unpack=unpackb_own)
    ours, unchecked = decoder.feed(frame(packb(sent)) + frame(repeated))
    assert isinstance(ours, Message) and ours.body == sent
    assert unpackb_own(ours.body["done"][0][2]) == result
    assert isinstance(unchecked, Message) and unchecked.body == {"id": 9}  # never written by packb
