"""One TCP connection: frames in, checked requests to the dispatcher, replies and pushes out.

The protocol object runs no SQL and knows no domain rule. It decodes frames with the
sans-IO `FrameDecoder`, checks the envelope and the per-connection limits, and hands each
request to the `Dispatcher`. Its answers (`server.answers`) and pushes
(`server.push_producer`) go out through a `TurnOutput`, once per reactor turn, within the
budget of what it may queue.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from twisted.internet.defer import Deferred
from twisted.internet.error import ConnectionAborted, ConnectionLost
from twisted.internet.interfaces import IHalfCloseableProtocol, IPushProducer
from twisted.internet.protocol import Protocol, connectionDone
from twisted.logger import Logger
from twisted.protocols.policies import TimeoutMixin
from twisted.python.failure import Failure
from zope.interface import implementer  # type: ignore[import-untyped]  # no type information

from protocol.envelope import Request, parse_request
from protocol.errors import (
    BadRequest,
    FrameTooLarge,
    MalformedFrame,
    RateLimited,
    Unavailable,
    WarungError,
)
from protocol.excerpt import excerpt
from protocol.framing import FrameDecoder, Message
from protocol.ops import Op
from server.answers import Answers
from server.frame_watch import FrameWatch
from server.proxy_header import OPENING, begins_proxy_header
from server.socket_tuning import tune_socket

if TYPE_CHECKING:
    from server.dispatch import Identity
    from server.factory import WarungFactory

log = Logger()
REFUSAL_GRACE_S = 2.0


@implementer(IPushProducer, IHalfCloseableProtocol)
class WarungConnection(Answers, Protocol, TimeoutMixin):
    def __init__(self, factory: WarungFactory, address: str) -> None:
        self.factory = factory
        self.limits = factory.limits
        self.address = address
        self.decoder = FrameDecoder(self.limits.max_frame, self.limits.max_values)
        self.identity: Identity | None = None
        self.user: str | None = None  # whom it was last signed in as, for the access log
        self.conn_id: int | None = None  # once admitted: its id in the access log
        self.opened_at = 0.0
        self.bytes_in = 0
        self.client_max_frame: int | None = None
        self.client_name = ""  # from its hello, for the session list
        self.greeted = False
        self.closing = False
        self.registered = False  # the transport's producer (`connectionMade`)
        self.in_flight = 0
        self.half_closed = False  # the client closed its sending side
        self._refusal: Any = None
        self._bucket = factory.new_bucket()
        self._opening: bytes | None = b""  # the stream's first bytes, until OPENING are in
        self.frames = FrameWatch(
            factory.clock, self.limits, factory.partial_frames, self._frame_too_slow
        )
        self.init_pushes(factory.metrics.pushes, factory.clock, factory.queued_total)

    # -- connection lifecycle

    def callLater(self, period: float, func: Callable[[], object]) -> Any:
        """TimeoutMixin's timer, on the factory's clock rather than the global reactor."""
        return self.factory.clock.callLater(period, func)

    def connectionMade(self) -> None:
        self.out = self.factory.turns.output(self.transport, self.drained)
        refusal = self.factory.admit(self)
        if refusal is not None:
            self._send_error(None, refusal)
            self.close()
            return
        self.conn_id = self.factory.access.opened(self.address)
        self.opened_at = self.factory.clock.seconds()
        tune_socket(self.transport, self.limits.send_buffer_bytes)
        self.tcp.registerProducer(self, True)
        self.registered = True
        self.setTimeout(self.limits.hello_timeout_s)

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self.closing = True
        self.out.stop()
        self.queued_total.release(self)
        self.setTimeout(None)
        self._cancel_pause_timer()
        self.frames.stop()
        if self._refusal is not None and self._refusal.active():
            self._refusal.cancel()
        self.factory.forget(self)
        if self.conn_id is not None:
            self.factory.access.closed(
                self.conn_id,
                self.address,
                self.user,
                self.bytes_in,
                self.out.written,
                self.opened_at,
                _how(reason),
            )

    def close(self) -> None:
        """Send what is written, then close."""
        self.closing = True
        self.out.detach()
        self._lose()

    def _lose(self) -> None:
        """Close once what is written is sent. The transport lets go of this producer
        first: Twisted resumes a paused streaming producer when its buffer drains, instead
        of closing (`FileDescriptor.doWrite`), so a client that half-closed while its
        replies waited got no FIN until the silence timeout."""
        self.tcp.loseConnection()
        if self.registered:
            self.registered = False
            self.tcp.unregisterProducer()

    def _refuse_rest(self) -> None:
        """Close after an oversized frame without the peer losing our error to a reset.

        Closing with unread input makes the kernel send RST, which can destroy the error
        still in flight; so send FIN, drop what else arrives, and abort only after a grace.
        """
        if self.closing:  # the error did not fit what may be queued: already reset
            return
        self.closing = True
        self.out.detach()
        self.tcp.loseWriteConnection()
        self._refusal = self.factory.clock.callLater(REFUSAL_GRACE_S, self.tcp.abortConnection)

    def readConnectionLost(self) -> None:
        """The client closed its sending side: the requests it sent are answered, then the
        connection is closed (`_count` closes it after the last answer)."""
        self.half_closed = True
        if not self.in_flight:
            self.close()

    def writeConnectionLost(self) -> None:
        pass

    def timeoutConnection(self) -> None:
        log.info("closing conn {conn} ({address}): silent too long", **self._where())
        self.abort()

    # -- input

    def dataReceived(self, data: bytes) -> None:
        self.bytes_in += len(data)
        if self.closing:
            return
        if self._opening is not None and self.opens_with_proxy_header(data):
            return
        self.decoder.receive(data)
        whole = False  # a whole frame came: activity, where stray bytes are not
        while not self.closing and (event := self.decoder.next_event()) is not None:
            if not whole and self.greeted:  # before hello its deadline stands
                self.resetTimeout()
            whole = True
            if isinstance(event, Message):
                self._message(event.body)
            elif isinstance(event, FrameTooLarge):
                self._send_error(None, event)
                self._refuse_rest()
            else:
                self._malformed(event)
        if self.closing:  # what else came is never decoded
            return
        if not self.frames.update(self.decoder, whole, self.address):
            self._refuse_partial_frame(self.decoder.declared or 0)

    def opens_with_proxy_header(self, data: bytes) -> bool:
        """Whether the stream, of which `data` are the next bytes off the wire, opens with a
        PROXY header: then the connection is closed, with nothing of it read further.

        A header is honoured only from a configured proxy (`server.proxy_gate`), and only
        before this protocol starts: from anyone else, or a second one, it is a client lying
        about its address. Over TLS the TLS layer calls this with the bytes it is about to
        decrypt (`server.tls`), since a header would come before the handshake."""
        if self._opening is None or self.closing:
            return False
        opening = self._opening = self._opening + data[:OPENING]
        if len(opening) < OPENING:
            return False
        self._opening = None
        if not begins_proxy_header(opening[:OPENING]):
            return False
        log.info("closing {address}: a PROXY header not from a proxy", address=self.address)
        self.factory.security.record("conn.closed", self.address, reason="proxy_header_refused")
        self.close()
        return True

    def _refuse_partial_frame(self, length: int) -> None:
        """A large frame begun while the server holds all the unfinished ones it may."""
        self.factory.security.record(
            "conn.closed", self.address, reason="partial_frames", length=length
        )
        self._send_error(
            None,
            Unavailable(
                "the server holds too many large unfinished frames: send it again later",
                {"reason": "partial_frames", "retry_after_ms": 1000},
            ),
        )
        self._refuse_rest()

    def _frame_too_slow(self) -> None:
        """A frame was not finished in time: reset, without a message."""
        log.info(
            "closing conn {conn} ({address}): a frame was not finished in time", **self._where()
        )
        self.factory.security.record(
            "conn.closed", self.address, reason="frame_deadline", buffered=self.decoder.buffered
        )
        self.abort()

    def _malformed(self, error: MalformedFrame) -> None:
        self._refuse(None, error)

    def _message(self, body: dict[str, Any]) -> None:
        try:
            request = parse_request(body)
        except BadRequest as error:
            self._refuse(error.request_id, error)
            return
        if not self.greeted:
            self._first_request(request)
        elif request.op == Op.HELLO:
            again = BadRequest("hello was already said on this connection")
            self._refuse(request.id, again, request.op)
        else:
            self._admit_request(request)

    def _refuse(self, request_id: int | None, error: WarungError, op: str | None = None) -> None:
        """Answer a frame refused before any handler ran (malformed, a bad envelope, a second
        hello, past the in-flight or rate limit); before `hello`, then close. After it, each
        is charged to its address's refusal budget in the same step: a connection that goes
        on sending past it is closed, where each refused frame cost an answer without end
        (11 µs of the reactor and 129 bytes out for 4 bytes in, an empty frame)."""
        if not self.greeted:
            self._send_error(request_id, error, op)
            self.close()
        elif self.factory.refusals.take(self.address, self.factory.clock.seconds()):
            self._close_refused()
        else:
            self._send_error(request_id, error, op)

    def _close_refused(self) -> None:
        burst = self.limits.refusal_burst
        log.info(
            "closing conn {conn} ({address}): it went on sending past {burst} refusals",
            **self._where(),
            burst=burst,
        )
        self.factory.security.record("conn.closed", self.address, reason="refusals")
        message = "too many requests refused on this connection: pace them (PROTOCOL.md 7)"
        self._send_error(None, RateLimited(message, {"reason": "refusals", "limit": burst}))
        self._refuse_rest()

    def _first_request(self, request: Request) -> None:
        if request.op != Op.HELLO:
            self._send_error(
                request.id,
                BadRequest(f"the first request must be hello, not '{excerpt(request.op)}'"),
                request.op,
            )
            self.close()
            return
        self.greeted = True  # a hello is being answered; anything after it is a second one
        answered = self._run(request, self.factory.clock.seconds())
        if isinstance(answered, Deferred):
            answered.addCallback(self._after_hello)
        else:
            self._after_hello(answered)

    def _after_hello(self, ok: bool) -> None:
        if ok:
            self.setTimeout(self.limits.idle_timeout_s)
        else:
            self.close()

    def _admit_request(self, request: Request) -> None:
        if self.factory.draining:
            self._send_error(
                request.id,
                Unavailable(
                    "this server is shutting down: reconnect, to it or another",
                    {"reason": "draining", "retry_after_ms": 1000},
                ),
                request.op,
            )
            return
        if self.in_flight >= self.limits.max_in_flight:
            self._refuse(
                request.id,
                RateLimited(
                    f"more than {self.limits.max_in_flight} requests in flight: wait for answers",
                    {"limit": self.limits.max_in_flight, "reason": "in_flight"},
                ),
                request.op,
            )
            return
        now = self.factory.clock.seconds()
        wait = self._bucket.take(now)
        if wait:
            self._refuse(
                request.id,
                RateLimited(
                    "too many requests on this connection: slow down",
                    {"reason": "rate", "retry_after_ms": int(wait * 1000) + 1},
                ),
                request.op,
            )
            return
        self._run(request, now)

    def _run(self, request: Request, began: float) -> bool | Deferred[bool]:
        """Dispatch the request and send its answer; whether it succeeded, or a Deferred of
        that when the handler answers later. An answer known at once is sent at once."""
        self.in_flight += 1
        try:
            result = self.factory.dispatcher.dispatch(request, self)
        except WarungError as error:
            return self._count(self._reply_error(error, request), request.op, began)
        if isinstance(result, Deferred):
            result.addCallbacks(
                self._reply_ok,
                self._reply_failure,
                callbackArgs=(request,),
                errbackArgs=(request,),
            )
            return result.addCallback(self._count, request.op, began)
        return self._count(self._reply_ok(result, request), request.op, began)

    def _count(self, outcome: str, op: str, began: float) -> bool:
        """After an answer: count it, and close after the last one the client will get."""
        self.factory.metrics.answered(op, outcome, self.factory.clock.seconds() - began)
        if self.half_closed and not self.in_flight and not self.closing:
            self.close()
        return outcome == "ok"

    def set_max_frame(self, max_frame: int | None) -> None:
        self.client_max_frame = max_frame

    def sign_in(self, identity: Identity | None) -> None:
        if self.closing:  # a sign-in that finished after the client left: register nothing
            return
        previous = self.identity
        self.identity = identity
        if identity is not None:
            self.user = identity.username
        self.factory.signed_in(self, previous, identity)


def _how(reason: Failure) -> str:
    """How a connection ended, for the access log: "aborted" by the server (a timeout, a
    budget), "lost" (reset, or a broken network), or "closed" by either side."""
    if reason.check(ConnectionAborted):
        return "aborted"
    return "lost" if reason.check(ConnectionLost) else "closed"
