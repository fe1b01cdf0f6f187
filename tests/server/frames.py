"""The bodies of the frames a server wrote, for tests that read its bytes."""

from __future__ import annotations

from typing import Any

from protocol.framing import FrameDecoder, Message


def bodies(data: bytes, max_frame: int = 2**24) -> list[dict[str, Any]]:
    """Every frame of `data` decoded; any frame that is not a whole message fails the test."""
    events = FrameDecoder(max_frame).feed(data)
    messages = [event for event in events if isinstance(event, Message)]
    assert len(messages) == len(events), f"not every frame is a message: {events}"
    return [message.body for message in messages]
