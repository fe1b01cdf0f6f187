"""The message envelope: requests, success and failure replies, and pushes."""

from dataclasses import dataclass, field
from typing import Any

from protocol.codec import packb
from protocol.errors import BadRequest, ErrorCode
from protocol.excerpt import excerpt
from protocol.framing import HEADER, frame
from protocol.rules import MAX_ID

REQUEST_KEYS = frozenset({"id", "op", "args"})
MAX_OP_LENGTH = 64
MAX_LISTED = 3  # unknown keys named in an error
MAX_SEQ_BYTES = 9  # a uint64 in msgpack


@dataclass(frozen=True, slots=True)
class Request:
    id: int
    op: str
    args: dict[str, Any] = field(default_factory=dict)


def valid_id(value: Any) -> bool:
    return type(value) is int and 1 <= value <= MAX_ID


def parse_request(body: dict[str, Any]) -> Request:
    """Check a decoded map against the request envelope.

    Raises `BadRequest` whose `request_id` is the map's id when that id is usable, so the
    error can be matched to the request by the client.
    """
    raw_id = body.get("id")
    request_id = raw_id if valid_id(raw_id) else None
    if request_id is None:
        raise BadRequest(
            f"'id' must be an integer from 1 to 2^53, got {_describe(raw_id)}",
            {"field": "id"},
        )
    unknown = sorted(excerpt(k) for k in body if k not in REQUEST_KEYS)
    if unknown:
        raise BadRequest(
            f"unknown envelope key(s): {_listed(unknown)}; a request has only id, op and args",
            {"field": unknown[0]},
            request_id,
        )
    op = body.get("op")
    if not isinstance(op, str) or not 0 < len(op) <= MAX_OP_LENGTH:
        got = f"{len(op)} characters" if isinstance(op, str) else _describe(op)
        raise BadRequest(
            f"'op' must be a string of 1 to {MAX_OP_LENGTH} characters, got {got}",
            {"field": "op"},
            request_id,
        )
    args = body.get("args", {})
    if not isinstance(args, dict):
        raise BadRequest(
            f"'args' must be a map, got {_describe(args)}", {"field": "args"}, request_id
        )
    return Request(request_id, op, args)


def _listed(names: list[str]) -> str:
    """The first few of `names`, and how many more: an answer never grows with the input."""
    shown = ", ".join(f"'{name}'" for name in names[:MAX_LISTED])
    more = len(names) - MAX_LISTED
    return f"{shown} and {more} more" if more > 0 else shown


def _describe(value: Any) -> str:
    if value is None:
        return "nothing"
    return type(value).__name__


def request(request_id: int, op: str, args: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"id": request_id, "op": op, "args": args or {}}


def success(request_id: int, result: dict[str, Any]) -> dict[str, Any]:
    return {"id": request_id, "ok": True, "result": result}


def failure(
    request_id: int | None,
    code: ErrorCode | str,
    message: str,
    details: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "id": request_id,
        "ok": False,
        "error": {"code": str(code), "message": message, "details": details or {}},
    }


def push(event: str, seq: int, data: dict[str, Any]) -> dict[str, Any]:
    return {"event": event, "seq": seq, "data": data}


class PushTemplate:
    """A push encoded once and framed for many connections, each with its own `seq`.

    The body is the map `{"event", "seq", "data"}` in that order: the bytes before and
    after the `seq` value are shared, only the small integer is packed per connection.
    """

    __slots__ = ("_head", "_tail", "data", "event", "size")

    def __init__(self, event: str, data: dict[str, Any]) -> None:
        self.event = event
        self.data = data
        self._head = b"\x83" + packb("event") + packb(event) + packb("seq")
        self._tail = packb("data") + packb(data)
        self.size = HEADER.size + len(self._head) + MAX_SEQ_BYTES + len(self._tail)
        """The most bytes a frame of it takes, whatever its `seq`."""

    def frame(self, seq: int) -> bytes:
        return frame(self._head + packb(seq) + self._tail)


__all__ = [
    "PushTemplate",
    "Request",
    "failure",
    "parse_request",
    "push",
    "request",
    "success",
    "valid_id",
]
