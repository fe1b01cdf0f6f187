"""Frames: a 4-byte big-endian body length, then one msgpack map. Bytes in, messages out."""

import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from msgpack.exceptions import FormatError, StackError  # type: ignore[import-untyped]

from protocol.codec import packb, unpackb
from protocol.errors import FrameTooLarge, MalformedFrame
from protocol.excerpt import excerpt
from protocol.rules import DEFAULT_MAX_FRAME
from protocol.value_count import count_values

HEADER = struct.Struct(">I")
MAX_REASON = 160  # characters of a decoder's error shown to the client


@dataclass(frozen=True, slots=True)
class Message:
    """One decoded body: a map with string keys. `size` is the body length in bytes."""

    body: dict[str, Any]
    size: int


Event = Message | FrameTooLarge | MalformedFrame


class FrameDecoder:
    """Incremental decoder: feed it any chunks, get back whole messages and frame errors.

    A bad body (not msgpack, not a map) is reported as `MalformedFrame` and decoding goes on
    with the next frame. A declared length over `max_frame` is reported as `FrameTooLarge`
    before any of its body is buffered; the decoder then refuses all further input, since
    the rest of the stream cannot be trusted to be in step.

    With `max_values`, a body of more values than that is reported as `MalformedFrame`
    without being decoded, so a frame costs the reactor a bounded time (see
    `protocol.value_count`). A server sets it; a client reading a server does not.

    `unpack` decodes each body: `unpackb`, or `unpackb_own` between a server's own processes.
    """

    def __init__(
        self,
        max_frame: int = DEFAULT_MAX_FRAME,
        max_values: int | None = None,
        unpack: Callable[[bytes], Any] = unpackb,
    ) -> None:
        self.max_frame = max_frame
        self.max_values = max_values
        self.unpack = unpack
        self._buffer = bytearray()
        self.broken = False

    @property
    def buffered(self) -> int:
        """Bytes held for a frame not yet complete."""
        return len(self._buffer)

    @property
    def declared(self) -> int | None:
        """The declared body length of the frame not yet complete, once its header is in."""
        if len(self._buffer) < HEADER.size:
            return None
        length: int = HEADER.unpack_from(self._buffer)[0]
        return length

    def feed(self, data: bytes) -> list[Event]:
        """Take the next bytes of the stream; return the events they complete, in order."""
        self.receive(data)
        return list(iter(self.next_event, None))

    def receive(self, data: bytes) -> None:
        """Take the next bytes of the stream, to be read back with `next_event`: a reader
        that stops early (a connection it closes) leaves the rest undecoded."""
        if not self.broken:
            self._buffer += data

    def next_event(self) -> Event | None:
        """The next event the bytes received complete; None until more bytes come."""
        buffer = self._buffer
        if self.broken or len(buffer) < HEADER.size:
            return None
        (length,) = HEADER.unpack_from(buffer)
        if length > self.max_frame:
            self.broken = True
            buffer.clear()
            return FrameTooLarge(
                f"frame of {length} bytes exceeds the limit of {self.max_frame}",
                {"length": length, "max_frame": self.max_frame},
            )
        stop = HEADER.size + length
        if stop > len(buffer):
            return None
        body = bytes(buffer[HEADER.size : stop])
        del buffer[:stop]  # from the front: CPython moves the start, not the bytes
        return decode_body(body, self.max_values, self.unpack)


# msgpack's errors that come without words
_SILENT: dict[type[Exception], str] = {
    StackError: "nested too deeply",
    FormatError: "a byte that begins no msgpack value",
}


def decode_body(
    body: bytes, max_values: int | None = None, unpack: Callable[[bytes], Any] = unpackb
) -> Message | MalformedFrame:
    """Decode one frame body into a `Message`, or say why it is not one."""
    if too_many_values(body, max_values):
        return MalformedFrame(
            f"body holds more than {max_values} msgpack values: send less in one request",
            {"reason": "too_many_values", "limit": max_values},
        )
    try:
        obj = unpack(body)
    except Exception as exc:  # msgpack raises several unrelated types for bad input
        shown = excerpt(str(exc), MAX_REASON) or _SILENT.get(type(exc), "")  # which may quote
        return MalformedFrame(f"body is not valid msgpack: {shown}", {"reason": "msgpack"})
    if not isinstance(obj, dict):
        return MalformedFrame(
            f"body must be a map, got {type(obj).__name__}", {"reason": "not_a_map"}
        )
    return Message(obj, len(body))


def too_many_values(body: bytes, max_values: int | None) -> bool:
    """Whether `body` holds more than `max_values` values (None: no bound). A body of at
    most `max_values` bytes cannot: only a longer one is counted."""
    if max_values is None or len(body) <= max_values:
        return False
    return count_values(body, max_values) > max_values


def frame(body: bytes) -> bytes:
    """Prefix an encoded body with its length."""
    return HEADER.pack(len(body)) + body


def encode(obj: dict[str, Any]) -> bytes:
    """Encode one message as a whole frame."""
    return frame(packb(obj))
