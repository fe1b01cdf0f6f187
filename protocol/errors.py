"""Error codes of the wire contract and the exceptions the sans-IO core raises."""

from enum import StrEnum
from typing import Any

from protocol.excerpt import excerpt


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
    """An error that travels on the wire as `{"code", "message", "details"}`.

    Raise the subclass of its code (`NotFound`, `InvalidState`, ...): each sets `code`.
    `code` is an `ErrorCode`, or the plain string of a code newer than this side knows
    (read from a peer by `from_wire`).
    """

    code: ErrorCode | str = ErrorCode.INTERNAL

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}

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


class UnsupportedVersion(WarungError):
    code = ErrorCode.UNSUPPORTED_VERSION


class Unauthenticated(WarungError):
    code = ErrorCode.UNAUTHENTICATED


class Forbidden(WarungError):
    code = ErrorCode.FORBIDDEN


class NotFound(WarungError):
    code = ErrorCode.NOT_FOUND


class Conflict(WarungError):
    code = ErrorCode.CONFLICT


class OutOfStock(WarungError):
    code = ErrorCode.OUT_OF_STOCK


class PaymentDeclined(WarungError):
    code = ErrorCode.PAYMENT_DECLINED


class RateLimited(WarungError):
    code = ErrorCode.RATE_LIMITED


class TooLarge(WarungError):
    code = ErrorCode.TOO_LARGE


class InvalidState(WarungError):
    code = ErrorCode.INVALID_STATE


class Unavailable(WarungError):
    code = ErrorCode.UNAVAILABLE


class Internal(WarungError):
    code = ErrorCode.INTERNAL


BY_CODE: dict[str, type[WarungError]] = {
    cls.code: cls
    for cls in (
        BadRequest,
        UnsupportedVersion,
        Unauthenticated,
        Forbidden,
        NotFound,
        Conflict,
        OutOfStock,
        PaymentDeclined,
        RateLimited,
        TooLarge,
        InvalidState,
        Unavailable,
        Internal,
    )
}


def from_wire(error: Any) -> WarungError:
    """The exception for an `error` map received from a peer (unknown codes stay readable)."""
    if not isinstance(error, dict):
        return Internal(f"malformed error: {excerpt(repr(error))}")
    code = str(error.get("code", "internal"))
    message = str(error.get("message", ""))
    details = error.get("details")
    if not isinstance(details, dict):
        details = {}
    cls = BY_CODE.get(code)
    if cls is None:
        return _unknown(code, message, details)
    return cls(message, details)


def _unknown(code: str, message: str, details: dict[str, Any]) -> WarungError:
    err = WarungError(message, details)
    err.code = code  # a code newer than this client: kept as the string it is
    return err
