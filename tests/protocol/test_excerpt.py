"""The one helper through which errors show client input."""

from protocol.codec import packb
from protocol.errors import MalformedFrame
from protocol.excerpt import MAX_EXCERPT, excerpt
from protocol.framing import FrameDecoder, frame


def test_short_printable_text_is_shown_as_it_is():
    assert excerpt("cart.add") == "cart.add"


def test_long_text_is_cut_and_says_how_long_it_was():
    shown = excerpt("x" * 10_000)
    assert shown == "x" * MAX_EXCERPT + "… (10000 chars)"


def test_control_characters_never_reach_a_message():
    assert excerpt("a\x1b[31m\nb\x00") == "a?[31m?b?"


def test_bytes_and_other_values_are_named_by_kind_only():
    assert excerpt(b"\xff" * 5) == "<bytes 5>"
    assert excerpt(12) == "<int>"


def test_a_huge_repeated_key_is_named_in_short():
    key = packb("k" * 100_000)
    body = b"\x82" + key + b"\x01" + key + b"\x02"  # {"kkk...": 1, "kkk...": 2}
    [event] = FrameDecoder().feed(frame(body))
    assert isinstance(event, MalformedFrame) and event.details == {"reason": "msgpack"}
    assert "repeats the key 'kkkk" in event.message and len(event.message) < 300
