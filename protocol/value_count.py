"""How many msgpack values a body holds, counted no further than a bound.

Decoding costs time per value, not per byte: a 1 MiB body of empty maps is a million
dicts to build (and a million more to check for repeated keys), 80 ms or more of the
reactor, while a 1 MiB string costs almost nothing. Counting the values from the type
bytes, and stopping as soon as there are more than the bound, costs at most `limit` steps
whatever the body's size; a body over the bound is refused before any of it is decoded.
"""

# first byte -> the whole value's size in bytes, for values of a fixed size
_FIXED = {
    **{b: 1 for b in (0xC0, 0xC2, 0xC3)},
    **{0xCA: 5, 0xCB: 9, 0xCC: 2, 0xCD: 3, 0xCE: 5, 0xCF: 9},
    **{0xD0: 2, 0xD1: 3, 0xD2: 5, 0xD3: 9, 0xD4: 3, 0xD5: 4, 0xD6: 6, 0xD7: 10, 0xD8: 18},
}
# first byte -> (width of the length, bytes between the length and the data): str, bin, ext
_SIZED = {
    **{0xC4: (1, 0), 0xC5: (2, 0), 0xC6: (4, 0)},
    **{0xC7: (1, 1), 0xC8: (2, 1), 0xC9: (4, 1)},
    **{0xD9: (1, 0), 0xDA: (2, 0), 0xDB: (4, 0)},
}
# first byte -> (width of the count, values per counted entry): array16/32, map16/32
_CONTAINERS = {0xDC: (2, 1), 0xDD: (4, 1), 0xDE: (2, 2), 0xDF: (4, 2)}


def count_values(body: bytes, limit: int) -> int:
    """The number of values in `body`, every map, key, value, array and item counted, or
    `limit + 1` as soon as there are more than `limit`.

    Counting stops early, with what it has counted, at a byte that is not msgpack or at
    the end of the body: the decoder reports those bodies as bad.
    """
    count, pending, pos, end = 0, 1, 0, len(body)
    while pending and pos < end:
        if count == limit:
            return limit + 1
        count += 1
        pending -= 1
        first = body[pos]
        if first <= 0x7F or first >= 0xE0:  # fixint
            pos += 1
        elif first <= 0x8F:  # fixmap
            pending += 2 * (first & 0x0F)
            pos += 1
        elif first <= 0x9F:  # fixarray
            pending += first & 0x0F
            pos += 1
        elif first <= 0xBF:  # fixstr
            pos += 1 + (first & 0x1F)
        elif first in _FIXED:
            pos += _FIXED[first]
        elif first in _SIZED:
            width, gap = _SIZED[first]
            length = int.from_bytes(body[pos + 1 : pos + 1 + width], "big")
            pos += 1 + width + gap + length
        elif first in _CONTAINERS:
            width, per_entry = _CONTAINERS[first]
            pending += per_entry * int.from_bytes(body[pos + 1 : pos + 1 + width], "big")
            pos += 1 + width
        else:  # 0xc1, never used
            break
    return count
