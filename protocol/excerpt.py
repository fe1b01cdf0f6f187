"""A short, safe excerpt of client input, for error messages and details.

An error names what was wrong, but never echoes more than `MAX_EXCERPT` characters of what
the client sent: a 1 MB argument name answered in full would make the answer as large as
the request, or larger. The excerpt is printable (other characters become `?`) and says
when it was cut; bytes are shown by their length only.
"""

from typing import Any

MAX_EXCERPT = 64


def excerpt(value: Any, limit: int = MAX_EXCERPT) -> str:
    """`value` as at most about `limit` printable characters, marked when truncated."""
    if isinstance(value, bytes | bytearray):
        return f"<bytes {len(value)}>"
    if not isinstance(value, str):
        return f"<{type(value).__name__}>"
    shown = "".join(c if c.isprintable() else "?" for c in value[:limit])
    if len(value) > limit:
        return f"{shown}… ({len(value)} chars)"
    return shown
