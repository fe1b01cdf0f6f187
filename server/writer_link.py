"""The server's end of the SQLite writer process (`server.writer_process`).

`WriterLink.submit` sends a write job down the writer's stdin and returns a Deferred that
fires, on the reactor thread, when the writer reports the job's outcome after its commit.
A writer that dies fails the jobs it held with `unavailable` (their outcome is unknown: a
checkout retried with its key finds out) and is started again; until it is back, new jobs
get `unavailable` at once. Once a restarted writer is ready, each of `restarted` is called
with the time the old one was found dead, so that what its death left unsettled is settled
at once (`server.services.settling`). `stop` closes the writer's stdin, which makes it
finish what it holds and exit.
"""

from __future__ import annotations

import itertools
import os
import sys
from collections import Counter
from collections.abc import Callable
from typing import Any, Protocol, cast

from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.protocol import ProcessProtocol
from twisted.logger import Logger
from twisted.python.failure import Failure

from protocol.codec import unpackb_own
from protocol.errors import from_wire
from protocol.framing import FrameDecoder, Message, encode
from server.write_jobs import PIPE_MAX_FRAME, unavailable

RESTART_S = 0.5
STOP_S = 30.0

log = Logger()


class WriterGone(RuntimeError):
    """The writer process exited before it was ready (its reasons are on stderr)."""


class WriterProcess(Protocol):
    """The writer process as Twisted's `spawnProcess` gives it.

    Twisted types `ProcessProtocol.transport` as `IProcessTransport | None`, and mypy reads
    the methods of its zope interfaces as taking no `self`; this says what is really there.
    """

    def write(self, data: bytes) -> None: ...
    def closeStdin(self) -> None: ...
    def signalProcess(self, signal: str) -> None: ...


class _Pipe(ProcessProtocol):
    """One writer process: frames from its stdout to the link; it is `ready` when its
    database is open, and `ended` when it has exited."""

    def __init__(self, link: WriterLink) -> None:
        self.link = link
        self.decoder = FrameDecoder(PIPE_MAX_FRAME, unpack=unpackb_own)
        self.ready: Deferred[None] = Deferred()
        self.ended: Deferred[None] = Deferred()

    @property
    def process(self) -> WriterProcess:
        return cast(WriterProcess, self.transport)

    def outReceived(self, data: bytes) -> None:
        for event in self.decoder.feed(data):
            if not isinstance(event, Message):
                log.error("the writer sent a bad frame: {error}", error=event.message)
                self.process.signalProcess("KILL")
                return
            self.link.received(self, event.body)

    def processEnded(self, reason: Failure) -> None:
        self.link.ended(self, reason)


class WriterLink:
    def __init__(self, reactor: Any, url: str) -> None:
        self.reactor = reactor
        self.url = url
        self.live = False
        self.stopping = False
        self.batches = 0
        self.writes = 0
        self.busy_s = 0.0
        self.batch_sizes: Counter[int] = Counter()  # commits, by how many writes each held
        self._ids = itertools.count(1)
        self._sent: dict[int, Deferred[Any]] = {}
        self._pipe: _Pipe | None = None
        self._died_at: float | None = None  # when the writer last died, until one is back
        self.restarted: list[Callable[[float], object]] = []

    def start(self) -> Deferred[None]:
        """Start the writer; fires once its database is open."""
        self._pipe = pipe = _Pipe(self)
        argv = [sys.executable, "-m", "server.writer_process", self.url]
        self.reactor.spawnProcess(
            pipe, sys.executable, argv, env=os.environ, childFDs={0: "w", 1: "r", 2: 2}
        )
        return pipe.ready

    @property
    def up(self) -> bool:
        """Whether the writer takes jobs now (not while it restarts or stops)."""
        return self._pipe is not None and self.live and not self.stopping

    @property
    def pending(self) -> int:
        """Jobs sent to the writer whose outcome has not come back."""
        return len(self._sent)

    def submit(self, name: str, args: tuple[Any, ...]) -> Deferred[Any]:
        """Run the write job `name(db, *args)`; its result or error, after the commit."""
        pipe = self._pipe
        if pipe is None or not self.up:
            return fail(unavailable("the database writer is restarting"))
        job_id = next(self._ids)
        done: Deferred[Any] = Deferred()
        self._sent[job_id] = done
        pipe.process.write(encode({"jobs": [[job_id, name, args]]}))
        return done

    def stop(self) -> Deferred[None]:
        """Let the writer finish the jobs it holds, then exit; fires when it has."""
        self.stopping = True
        pipe = self._pipe
        if pipe is None or pipe.ended.called:
            return succeed(None)
        pipe.process.closeStdin()
        killer = self.reactor.callLater(STOP_S, pipe.process.signalProcess, "KILL")
        return pipe.ended.addBoth(_cancel, killer)

    def received(self, pipe: _Pipe, body: dict[str, Any]) -> None:
        if "ready" in body:
            self.live = True
            pipe.ready.callback(None)
            died_at, self._died_at = self._died_at, None
            if died_at is not None:
                for listener in self.restarted:
                    listener(died_at)
            return
        self.batches += 1
        self.writes += len(body["done"])
        self.batch_sizes[len(body["done"])] += 1
        self.busy_s += body["busy_s"]
        for job_id, ok, value in body["done"]:
            done = self._sent.pop(job_id)
            if ok:
                done.callback(unpackb_own(value))
            else:
                done.errback(from_wire(value))

    def ended(self, pipe: _Pipe, reason: Failure) -> None:
        self.live = False
        lost, self._sent = self._sent, {}
        for done in lost.values():
            done.errback(unavailable("the database writer stopped"))
        if not pipe.ready.called:
            pipe.ready.errback(WriterGone(f"the database writer exited: {reason.value}"))
        elif not self.stopping:
            log.error("the database writer stopped ({why}); starting it again", why=reason.value)
            self._died_at = self.reactor.seconds()
            self.reactor.callLater(RESTART_S, self._restart)
        pipe.ended.callback(None)

    def _restart(self) -> None:
        if self.stopping:
            return
        self.start().addErrback(self._restart_failed)

    def _restart_failed(self, failure: Failure) -> None:
        if self.stopping:  # stopped while it was starting: nothing to retry
            return
        log.error("the database writer did not start ({why}); trying again", why=failure.value)
        self.reactor.callLater(RESTART_S, self._restart)


def _cancel(result: Any, call: Any) -> Any:
    if call.active():
        call.cancel()
    return result
