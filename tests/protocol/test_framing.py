import itertools
import struct

from hypothesis import given, settings
from hypothesis import strategies as st

from protocol.codec import packb
from protocol.errors import FrameError, FrameTooLarge, MalformedFrame
from protocol.framing import FrameDecoder, Message, encode, frame

keys = st.text(max_size=8)
scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=20)
    | st.binary(max_size=20)
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4),
    max_leaves=12,
)
messages = st.dictionaries(keys, values, max_size=5)


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    edges = [0, *points, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(edges)]


def feed_all(decoder: FrameDecoder, chunks: list[bytes]) -> list:
    events = []
    for chunk in chunks:
        events.extend(decoder.feed(chunk))
    return events


@settings(max_examples=300)
@given(st.lists(messages, max_size=8), st.lists(st.integers(0, 10_000), max_size=20))
def test_any_split_of_a_valid_stream_gives_back_the_same_messages(msgs, cuts):
    stream = b"".join(encode(m) for m in msgs)
    events = feed_all(FrameDecoder(), split(stream, cuts))
    assert [e.body for e in events] == msgs
    assert all(isinstance(e, Message) for e in events)


@given(st.lists(messages, min_size=1, max_size=4))
def test_one_byte_at_a_time(msgs):
    stream = b"".join(encode(m) for m in msgs)
    decoder = FrameDecoder()
    events = feed_all(decoder, [stream[i : i + 1] for i in range(len(stream))])
    assert [e.body for e in events] == msgs
    assert decoder.buffered == 0


@settings(max_examples=500)
@given(st.binary(max_size=2000), st.lists(st.integers(0, 3000), max_size=10))
def test_random_bytes_only_ever_give_messages_or_frame_errors(data, cuts):
    decoder = FrameDecoder(max_frame=4096)
    for event in feed_all(decoder, split(data, cuts)):
        assert isinstance(event, Message | FrameError)


@given(st.binary(max_size=300))
def test_random_bodies_in_valid_frames_keep_the_stream_in_step(body):
    decoder = FrameDecoder()
    events = decoder.feed(frame(body) + encode({"after": 1}))
    assert len(events) == 2
    assert isinstance(events[0], Message | MalformedFrame)
    assert events[1] == Message({"after": 1}, len(packb({"after": 1})))


def test_oversized_length_is_refused_before_its_body_arrives():
    decoder = FrameDecoder(max_frame=100)
    events = decoder.feed(encode({"a": 1}) + struct.pack(">I", 101))
    assert isinstance(events[0], Message) and events[0].body == {"a": 1}
    assert isinstance(events[1], FrameTooLarge)
    assert events[1].details == {"length": 101, "max_frame": 100}
    assert decoder.broken and decoder.buffered == 0
    assert decoder.feed(b"x" * 1000) == []
    assert decoder.buffered == 0


def test_length_equal_to_the_limit_is_accepted():
    body = packb({"k": "x" * 50})
    decoder = FrameDecoder(max_frame=len(body))
    assert decoder.feed(frame(body)) == [Message({"k": "x" * 50}, len(body))]


def test_non_map_and_garbage_are_malformed_and_decoding_goes_on():
    decoder = FrameDecoder()
    events = decoder.feed(frame(packb([1])) + frame(b"\xc1") + encode({"ok": True}))
    assert isinstance(events[0], MalformedFrame)
    assert events[0].details == {"reason": "not_a_map"}
    assert isinstance(events[1], MalformedFrame)
    assert events[1].details == {"reason": "msgpack"}
    assert str(events[1]).endswith(": a byte that begins no msgpack value"), "says why"
    assert isinstance(events[2], Message) and events[2].body == {"ok": True}


def test_a_huge_declared_container_inside_a_small_frame_is_malformed():
    body = b"\x81\xa1k\xdd\xff\xff\xff\xff"  # {"k": array of 2^32-1 items} with no items
    [event] = FrameDecoder().feed(frame(body))
    assert isinstance(event, MalformedFrame)


def test_deep_nesting_is_malformed_not_a_crash():
    body = b"\x81\xa1k" + b"\x91" * 100_000 + b"\xc0"
    [event] = FrameDecoder(max_frame=200_000).feed(frame(body))
    assert isinstance(event, MalformedFrame)
    assert str(event).endswith(": nested too deeply")


def test_strings_and_bytes_stay_distinct():
    [event] = FrameDecoder().feed(encode({"s": "abc", "b": b"abc"}))
    assert isinstance(event, Message)
    assert event.body == {"s": "abc", "b": b"abc"}
    assert type(event.body["s"]) is str and type(event.body["b"]) is bytes


def test_a_value_that_cannot_be_packed_leaves_nothing_behind_for_the_next():
    before = packb({"ok": True})
    for unpackable in ({"half": "done", "then": object()}, {"big": 2**64}):
        try:
            packb(unpackable)
        except (TypeError, OverflowError):
            pass
        else:
            raise AssertionError(f"{unpackable!r} was packed")
    assert packb({"ok": True}) == before
