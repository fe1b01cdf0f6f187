"""Counting a body's msgpack values, no further than a bound (issue 14, item 12)."""

from datetime import UTC, datetime
from typing import Any

import pytest

from protocol.codec import packb
from protocol.errors import MalformedFrame
from protocol.framing import FrameDecoder, Message, frame
from protocol.value_count import count_values

MIB = 1 << 20


def values_in(obj: Any) -> int:
    if isinstance(obj, dict):
        return 1 + sum(values_in(k) + values_in(v) for k, v in obj.items())
    if isinstance(obj, list):
        return 1 + sum(values_in(item) for item in obj)
    return 1


SAMPLES = [
    {},
    {"id": 2, "op": "ping", "args": {}},
    {"a": [None, True, False, 1.5, -1, -33, 200, 70_000, 2**40, -(2**40), 2**64 - 1]},
    {"s": "x" * 40, "m": "y" * 300, "l": "z" * 70_000, "b": b"\x00" * 300, "e": b""},
    {"t": datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC), "u": datetime(2026, 1, 2, tzinfo=UTC)},
    {"deep": [[[{"k": [1, 2, {"x": [{}] * 20}]}]]] * 3, "wide": {str(i): i for i in range(70)}},
    {"big": list(range(70_000))},
]


@pytest.mark.parametrize("obj", SAMPLES)
def test_every_value_is_counted_once(obj):
    assert count_values(packb(obj), 10**9) == values_in(obj)


def test_counting_stops_just_past_the_limit():
    body = packb({"x": [{}] * 1_000_000})
    assert count_values(body, 4096) == 4097


def test_a_body_of_too_many_values_is_refused_without_being_decoded(monkeypatch):
    decoded: list[bytes] = []
    monkeypatch.setattr("protocol.framing.unpackb", decoded.append)
    body = b"\x81\xa1x\xdd" + (MIB - 16).to_bytes(4, "big") + b"\x80" * (MIB - 16)
    [event] = FrameDecoder(MIB + 64, max_values=4096).feed(frame(body))
    assert isinstance(event, MalformedFrame)
    assert event.details == {"reason": "too_many_values", "limit": 4096}
    assert decoded == []  # refused on the count alone


def test_a_body_within_the_limit_decodes_as_before():
    body = packb({"id": 2, "op": "stock.subscribe", "args": {"product_ids": list(range(1000))}})
    [event] = FrameDecoder(max_values=4096).feed(frame(body))
    assert isinstance(event, Message) and len(event.body["args"]["product_ids"]) == 1000


def test_bad_bytes_are_left_for_the_decoder_to_report():
    [event] = FrameDecoder(max_values=4).feed(frame(b"\x81\xa1x\xc1" + b"\x00" * 10))
    assert isinstance(event, MalformedFrame) and event.details == {"reason": "msgpack"}
