"""Error codes of the wire contract and the exceptions the sans-IO core raises."""

from enum import StrEnum
from typing import Any


class ErrorCode(StrEnum):
    """Stable error codes: extend, never rename."""

    BAD_REQUEST = "bad_request"
    UNSUPPORTED_VERSION = "unsupported_version"
    UNAUTHENTICATED = "unauthenticated"
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"
    OUT_OF_STOCK = "out_of_stock"
    PAYMENT_DECLINED = "payment_declined"
    RATE_LIMITED = "rate_limited"
    TOO_LARGE = "too_large"
    INVALID_STATE = "invalid_state"
    UNAVAILABLE = "unavailable"
    INTERNAL = "internal"


class WarungError(Exception):
    """An error that travels on the wire as `{"code", "message", "details"}`."""

    code: ErrorCode = ErrorCode.INTERNAL

    def __init__(
        self, message: str, details: dict[str, Any] | None = None, code: ErrorCode | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}
        if code is not None:
            self.code = ErrorCode(code)

    def to_wire(self) -> dict[str, Any]:
        return {"code": str(self.code), "message": self.message, "details": self.details}


class FrameError(WarungError):
    """A frame that could not be turned into a message."""


class MalformedFrame(FrameError):
    """The body is not one valid msgpack object, or not a map. The stream stays in step."""

    code = ErrorCode.BAD_REQUEST


class FrameTooLarge(FrameError):
    """A declared length over the limit. The body was not read; the stream is unusable."""

    code = ErrorCode.TOO_LARGE


class BadRequest(WarungError):
    """A readable map that is not a valid request, or arguments that fail the op's schema.

    `request_id` is the request's id when one could be read, so the answer can carry it.
    """

    code = ErrorCode.BAD_REQUEST

    def __init__(
        self, message: str, details: dict[str, Any] | None = None, request_id: int | None = None
    ) -> None:
        super().__init__(message, details)
        self.request_id = request_id
