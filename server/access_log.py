"""The access log: one line per connection opened and closed, one per failed request.

Its lines are `twisted.logger` events of the namespace `warung.access`, in the server's own
log, each with an `event` field (`conn.opened`, `conn.closed`, `request.failed`,
`request.failed.summary`) and its facts as fields, so the JSON format carries them as keys.
A successful request writes nothing. docs/operations.md ("Logs") lists the fields.

Failed requests are what a hostile client makes cheaply, so they pass a `FloodGate` (as
the security log's events do): per address and error code a few lines a window, the rest
counted into one summary line; per error code, all addresses together have a bounded
number of lines a window. Opened and closed lines are not gated: connections are bounded
by the connection limits, and each line stands for one admitted connection.

No field holds a secret: never an argument, a message or a token; only the op (a client's
unknown op as its excerpt), the error code, the request id and the account name.
"""

from __future__ import annotations

from collections.abc import Hashable
from itertools import count
from typing import Any, cast

from twisted.logger import Logger

from protocol.excerpt import excerpt
from protocol.ops import REGISTRY
from server.clock import Clock
from server.log_flood import FloodGate, Suppressed
from server.security_log import iso_utc

log = Logger(namespace="warung.access")


class AccessLog:
    def __init__(self, clock: Clock, **gate: Any) -> None:
        """`gate`: the `FloodGate` options for failed requests (`per_window`, `window_s`,
        `group_lines`); by default its own."""
        self.clock = clock
        self.gate = FloodGate(clock, self._summarise, _group, **gate)
        self._ids = count(1)

    def opened(self, address: str) -> int:
        """Log a connection admitted from `address`; its connection id."""
        conn = next(self._ids)
        log.info(
            "conn {conn} opened from {address}", event="conn.opened", conn=conn, address=address
        )
        return conn

    def closed(
        self,
        conn: int,
        address: str,
        user: str | None,
        bytes_in: int,
        bytes_out: int,
        began: float,
        how: str,
    ) -> None:
        """Log the end of connection `conn`, opened at `began` (clock seconds); `user` is
        whom it was last signed in as, `how` "closed", "aborted" (by the server) or "lost"."""
        signed_in = "" if user is None else ", user {user}"
        log.info(
            "conn {conn} {how} from {address}" + signed_in + ": "
            "{bytes_in} bytes in, {bytes_out} out, {duration_s:.3f} s",
            event="conn.closed",
            conn=conn,
            address=address,
            user=user,
            bytes_in=bytes_in,
            bytes_out=bytes_out,
            duration_s=round(self.clock.seconds() - began, 3),
            how=how,
        )

    def failed(
        self,
        conn: int,
        address: str,
        user: str | None,
        request_id: int | None,
        op: str | None,
        code: str,
    ) -> None:
        """Log a request answered with error `code` (op None: not a readable request), or
        count it when its address has had its lines for the window."""
        fields = {
            "event": "request.failed",
            "conn": conn,
            "address": address,
            "user": user,
            "request_id": request_id,
            "op": op if op is None or op in REGISTRY else excerpt(op),
            "code": code,
        }
        if self.gate.admit((address, code), fields):
            log.info(_failed_text(request_id, op, user), **fields)

    def flush(self) -> None:
        """Write the summaries of the windows still counting (the server is stopping)."""
        self.gate.flush()

    def _summarise(self, key: Hashable, suppressed: Suppressed) -> None:
        """One line for the failed requests a window counted: how many, when, and the fields
        they all had alike (the others null). Counted for a group, its address is null."""
        common = suppressed.common
        fields = {name: common.get(name) for name in ("conn", "address", "user", "op", "code")}
        source = "many addresses" if fields["address"] is None else "{address}"
        log.info(
            "{suppressed} more failed requests ({code}) from " + source + " not logged one by "
            "one, {first} to {last}",
            **fields,
            event="request.failed.summary",
            suppressed=suppressed.count,
            first=iso_utc(suppressed.first),
            last=iso_utc(suppressed.last),
        )


def _failed_text(request_id: int | None, op: str | None, user: str | None) -> str:
    """The text of a failed request's line, naming only what it has."""
    what = "an unreadable request" if request_id is None else "request {request_id}"
    return (
        "conn {conn} "
        + what
        + ("" if op is None else " {op}")
        + " failed: {code} (from {address}"
        + ("" if user is None else ", user {user}")
        + ")"
    )


def _group(key: Hashable) -> Hashable:
    """The keys (address, code) of one error code share a budget of lines."""
    _, code = cast(tuple[str, str], key)
    return (None, code)
