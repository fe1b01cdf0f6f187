"""The answering half of a connection (`WarungConnection` mixes this in): each request's
result or error, encoded and sent within what the connection may queue.

A reply is never dropped: one that would take the connection past `limits.max_queued_bytes`
resets it, as does the server's budget for all connections (`server.queued_total`) when this
one is among those holding most. Errors leave through `_send_error`, the one place that
records refusals in the security log and failures in the access log.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from twisted.logger import Logger
from twisted.python.failure import Failure

from protocol.codec import packb
from protocol.envelope import Request, failure, success
from protocol.errors import TooLarge, WarungError
from protocol.framing import encode, frame
from server.dispatch import internal_error
from server.push_producer import PushProducer
from server.security_events import record_refusal

if TYPE_CHECKING:
    from server.dispatch import Identity

log = Logger()


class Answers(PushProducer):
    """The answers of a connection (`WarungConnection` mixes this in): it provides the
    attributes declared here, besides those `PushProducer` declares."""

    factory: Any  # the WarungFactory (Twisted's `Protocol.factory` admits no narrower type)
    in_flight: int
    identity: Identity | None

    def _reply_ok(self, result: dict[str, Any], request: Request) -> str:
        """Send the answer; returns the outcome: "ok" or the error code sent instead."""
        self.in_flight -= 1
        if self.closing:
            return "ok"
        try:
            body = packb(success(request.id, result))
        except Exception:  # a result the codec cannot carry is a bug: answered as one
            return self._send_error(
                request.id, internal_error(Failure(), _answering(request)), request.op
            )
        limit = self.client_max_frame or self.limits.max_frame
        if len(body) > limit:
            return self._send_error(
                request.id,
                TooLarge(
                    f"the answer is {len(body)} bytes, over the {limit} this client accepts",
                    {"size": len(body), "max_frame": limit},
                ),
                request.op,
            )
        self._send_reply(frame(body))
        return "ok"

    def _reply_failure(self, reason: Failure, request: Request) -> str:
        return self._reply_error(reason.value, request)

    def _reply_error(self, error: WarungError, request: Request) -> str:
        self.in_flight -= 1
        if self.closing:
            return str(error.code)
        try:
            return self._send_error(request.id, error, request.op)
        except Exception:  # details the codec cannot carry: a bug, answered as one
            return self._send_error(
                request.id, internal_error(Failure(), _answering(request)), request.op
            )

    def _send_error(self, request_id: int | None, error: WarungError, op: str | None = None) -> str:
        """Send `error` as the answer to `request_id` (a request of `op`); returns its code.
        A refusal the security log keeps is recorded here, the one place errors leave, and
        the failure, once encoded, goes to the access log (of an admitted connection)."""
        if op is not None:
            record_refusal(self.factory.security, op, error, self.address, self.identity)
        self._send_reply(encode(failure(request_id, error.code, error.message, error.details)))
        code = str(error.code)
        if self.conn_id is not None:
            user = None if self.identity is None else self.identity.username
            self.factory.access.failed(self.conn_id, self.address, user, request_id, op, code)
        return code

    def _send_reply(self, data: bytes) -> None:
        """A reply is never dropped: past the budget the connection is closed instead (or it
        was already, to keep all connections within theirs: `shed`)."""
        if not self._write_within(data, self.limits.max_queued_bytes) and not self.closing:
            self._close_over_budget(len(data))

    def _close_over_budget(self, size: int) -> None:
        budget = self.limits.max_queued_bytes
        why = f"a {size}-byte reply does not fit the {budget} bytes it may queue"
        self._reset_holding("queue_full", self.queued_bytes(), why)

    def shed(self, queued: int) -> None:
        """Closed at once, dropping the `queued` bytes it holds: all connections together
        hold what the server may queue, and this one is among those holding most."""
        budget = self.limits.max_queued_bytes_total
        why = f"it holds {queued} bytes, among the most while the server holds all it may queue"
        why += f" ({budget})"
        self._reset_holding("server_queue_full", queued, why)

    def _reset_holding(self, reason: str, queued: int, why: str) -> None:
        """Reset for what is queued to it (its own budget or the server's), logged."""
        log.info("closing conn {conn} ({address}): {why}", **self._where(), why=why)
        self.factory.security.record("conn.closed", self.address, reason=reason, queued=queued)
        self.abort()


def _answering(request: Request) -> str:
    return f"the answer to {request.op} (id {request.id})"
