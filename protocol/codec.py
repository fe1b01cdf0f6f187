"""msgpack options, fixed in one place for every producer and consumer of warung bodies.

- maps have string keys; strings and bytes stay distinct (bin type for bytes);
- a map never repeats a key: one that does is a decoding error, not "the last one wins";
- strings decode as UTF-8 (`raw=False`); invalid UTF-8 is a decoding error;
- timestamps are the msgpack timestamp extension (type -1), decoded as aware UTC datetimes;
- integers are limited to what msgpack carries: int64 and uint64.
"""

import threading
from typing import Any

import msgpack  # type: ignore[import-untyped]  # ships no type information

from protocol.excerpt import excerpt

_packers = threading.local()


def packb(obj: Any) -> bytes:
    """Encode one object. Raises TypeError/OverflowError for what the protocol cannot carry.

    Each thread reuses one Packer: making one per call costs as much as packing a small map.
    """
    try:
        packer = _packers.packer
    except AttributeError:
        packer = _packers.packer = msgpack.Packer(use_bin_type=True, datetime=True)
    packed: bytes = packer.pack(obj)
    return packed


def unpackb(body: bytes) -> Any:
    """Decode exactly one object from `body`; trailing bytes and a repeated key are errors.

    msgpack bounds every string, array and map by the body's own length, so a declared
    container size can never make the decoder allocate more than the frame holds.

    msgpack itself keeps the last value of a repeated key. Checking each map in a hook
    costs about as much again as the decode, so it is done only when needed: a body that
    is exactly the encoding of what it decoded to repeats no key (an encoded dict never
    does), and encoding again costs less than the hook. Bodies from this codec, and from
    any library that writes the shortest formats, take that way.
    """
    obj = msgpack.unpackb(body, raw=False, strict_map_key=True, timestamp=3, use_list=True)
    if packb(obj) == body:
        return obj
    return msgpack.unpackb(
        body,
        raw=False,
        strict_map_key=True,
        timestamp=3,
        use_list=True,
        object_pairs_hook=_unique_keys,
    )


def unpackb_own(body: bytes) -> Any:
    """Decode one object that `packb` wrote in this server's own processes (the writer's
    pipe): without `unpackb`'s check for a repeated key, which `packb` never writes and
    which cost a second encode of every write job's result on the reactor."""
    return msgpack.unpackb(body, raw=False, strict_map_key=True, timestamp=3, use_list=True)


def _unique_keys(pairs: list[tuple[Any, Any]]) -> dict[Any, Any]:
    """One decoded map, refused when it repeats a key."""
    mapping = dict(pairs)
    if len(mapping) < len(pairs):
        seen: set[Any] = set()
        for key, _ in pairs:
            if key in seen:
                raise ValueError(f"a map repeats the key '{excerpt(key)}'")
            seen.add(key)
    return mapping
