"""msgpack options, fixed in one place for every producer and consumer of warung bodies.

- maps have string keys; strings and bytes stay distinct (bin type for bytes);
- strings decode as UTF-8 (`raw=False`); invalid UTF-8 is a decoding error;
- timestamps are the msgpack timestamp extension (type -1), decoded as aware UTC datetimes;
- integers are limited to what msgpack carries: int64 and uint64.
"""

import threading
from typing import Any

import msgpack

_packers = threading.local()


def packb(obj: Any) -> bytes:
    """Encode one object. Raises TypeError/OverflowError for what the protocol cannot carry.

    Each thread reuses one Packer: making one per call costs as much as packing a small map.
    """
    try:
        packer = _packers.packer
    except AttributeError:
        packer = _packers.packer = msgpack.Packer(use_bin_type=True, datetime=True)
    return packer.pack(obj)


def unpackb(body: bytes) -> Any:
    """Decode exactly one object from `body`; trailing bytes are an error.

    msgpack bounds every string, array and map by the body's own length, so a declared
    container size can never make the decoder allocate more than the frame holds.
    """
    return msgpack.unpackb(
        body,
        raw=False,
        strict_map_key=True,
        timestamp=3,
        use_list=True,
    )
