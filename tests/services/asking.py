"""Asking a service from a connection of the test's own (`inline_db.ask` makes its own)."""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import Deferred, fail, succeed

from protocol.envelope import Request
from protocol.errors import WarungError
from server.dispatch import Dispatcher, Handler
from tests.services.inline_db import Recorder


def ask_from(peer: Recorder, handler: Handler, op: str, **args: Any) -> Deferred[Any]:
    """`op` answered by `handler` through the real Dispatcher for `peer` (its address, whom
    it is signed in as, what it is sent), as a Deferred."""
    try:
        answer = Dispatcher({op: handler}).dispatch(Request(1, op, args), peer)
    except WarungError:
        return fail()
    return answer if isinstance(answer, Deferred) else succeed(answer)
