"""From a parsed request to its outcome: op lookup, sign-in, role and argument checks.

Every op goes through `protocol.ops.REGISTRY`, which holds both its roles and its schema,
so no handler can be reached without both checks. Handlers are plain callables taking a
`Call` and returning a result map, a Deferred of one, or (an `async def` handler) a
coroutine of one; they raise `WarungError`s. A result known at once is passed on as it is:
most requests never build a Deferred.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import CoroutineType
from typing import Any, Protocol

from twisted.internet.defer import Deferred
from twisted.logger import Logger
from twisted.python.failure import Failure

from protocol.envelope import Request
from protocol.errors import (
    BadRequest,
    Forbidden,
    Internal,
    Unauthenticated,
    Unavailable,
    WarungError,
)
from protocol.excerpt import excerpt
from protocol.ops import REGISTRY
from server.events import Subscriber
from server.security_events import change_recorder
from server.security_log import SecurityLog
from server.serving import serving

log = Logger()


@dataclass
class Identity:
    """Who a connection is signed in as."""

    user_id: int
    username: str
    role: str
    session_id: int


class Peer(Subscriber, Protocol):
    """What a handler may ask of the connection a call came on, which is also what the
    event hub pushes to."""

    address: str
    client_name: str  # from its hello
    identity: Identity | None
    closing: bool

    def sign_in(self, identity: Identity) -> None: ...

    def set_max_frame(self, max_frame: int | None) -> None:
        """The largest frame the client takes (from its hello); None: the server's own."""


@dataclass
class Call:
    """One checked request. `signed_in_as` is who the connection was when the request
    arrived: a sign-out or sign-in pipelined behind it does not change whom it serves."""

    op: str
    args: dict[str, Any]
    peer: Peer
    signed_in_as: Identity | None = None

    @property
    def identity(self) -> Identity:
        assert self.signed_in_as is not None, "dispatch checks sign-in first"
        return self.signed_in_as


Handler = Callable[[Call], Any]


class Dispatcher:
    def __init__(
        self, handlers: Mapping[str, Handler], security: SecurityLog | None = None
    ) -> None:
        """`security`: where privileged changes that succeed are recorded (None: nowhere)."""
        unknown = set(handlers) - set(REGISTRY)
        if unknown:
            raise ValueError(f"handlers for ops not in the registry: {sorted(unknown)}")
        self.handlers = dict(handlers)
        self.security = security

    def dispatch(self, request: Request, peer: Peer) -> dict[str, Any] | Deferred[dict[str, Any]]:
        """The op's result map, or a Deferred of it when the handler returns one.

        Fails only with a `WarungError`: raised, or the Deferred's failure. Any other
        exception is logged under a reference and becomes an `internal` error.
        """
        who = peer.identity
        serving_now = serving.set(peer)  # whose its reads and writes are (`server.serving`)
        try:
            result = self._call(request, peer)
            if type(result) is CoroutineType:  # an `async def` handler: keeps `serving`
                result = Deferred.fromCoroutine(result)
        except WarungError:
            raise
        except Exception:
            raise internal_error(Failure(), request.op) from None
        finally:
            serving.reset(serving_now)
        changed = None
        if self.security is not None:
            changed = change_recorder(self.security, request, peer.address, who)
        if isinstance(result, Deferred):
            if changed is not None:
                result.addCallback(changed)
            return result.addErrback(_as_warung_error, request)
        return result if changed is None else changed(result)

    def _call(self, request: Request, peer: Peer) -> Any:
        spec = REGISTRY.get(request.op)
        if spec is None:
            raise BadRequest(
                f"unknown op '{excerpt(request.op)}': see the ops of the protocol's section 12",
                {"field": "op", "rule": "unknown"},
            )
        if spec.roles:
            if peer.identity is None:
                raise Unauthenticated(
                    f"'{request.op}' needs a signed-in user: call auth.login or auth.resume"
                )
            if peer.identity.role not in spec.roles:
                raise Forbidden(
                    f"'{request.op}' is not allowed for role {peer.identity.role}",
                    {"role": peer.identity.role, "allowed": sorted(spec.roles)},
                )
        args = spec.args.check(request.args)
        handler = self.handlers.get(request.op)
        if handler is None:
            raise Unavailable(
                f"'{request.op}' is part of the protocol but not offered by this server yet",
                {"op": request.op},
            )
        return handler(Call(request.op, args, peer, peer.identity))


def _as_warung_error(failure: Failure, request: Request) -> Failure:
    if failure.check(WarungError):
        return failure
    return Failure(internal_error(failure, request.op))


def internal_error(failure: Failure, where: str) -> Internal:
    """Log an unexpected failure under a reference; the client gets only the reference."""
    reference = secrets.token_hex(4)
    log.failure(
        "internal error in {where} (reference {reference})",
        failure,
        where=where,
        reference=reference,
    )
    return Internal(f"internal error (reference {reference})", {"reference": reference})
