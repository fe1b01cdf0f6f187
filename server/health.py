"""`/healthz` and `/readyz` on the metrics port, for a service manager, a load balancer or
Kubernetes.

`/healthz` answers 200 while the process serves HTTP at all. `/readyz` answers 200 when
this server can do its work: not draining, the database writer up (the SQLite writer
process, or the PostgreSQL writer threads), and the database answering a `SELECT 1` within
`PROBE_TIMEOUT_S`; otherwise 503 with the reason in one line of plain text.

Probes do not pile up on a database that hangs: one `SELECT 1` is in flight at a time, and
every check made meanwhile waits for that one's answer (each for at most the timeout).
"""

from __future__ import annotations

from typing import Any

import peewee as pw
from twisted.internet.defer import Deferred, succeed
from twisted.python.failure import Failure
from twisted.web import http
from twisted.web.resource import IResource, Resource
from twisted.web.server import NOT_DONE_YET, Request, Site

PROBE_TIMEOUT_S = 2.0


class Readiness:
    """Whether the server is ready; `ready` is the last check's answer (1 or 0)."""

    def __init__(
        self, factory: Any, dbx: Any, clock: Any, timeout_s: float = PROBE_TIMEOUT_S
    ) -> None:
        self.factory = factory
        self.dbx = dbx
        self.clock = clock
        self.timeout_s = timeout_s
        self.ready = 0
        self._probe: Deferred[None] | None = None
        self._waiting: list[Deferred[str | None]] = []

    def check(self) -> Deferred[str | None]:
        """Fires with None when ready, else with the reason why not."""
        if self.factory.draining:
            return succeed(self._answer("draining: the server is stopping"))
        if not self.dbx.writer_up:
            return succeed(self._answer("the database writer is down"))
        answer: Deferred[str | None] = Deferred()
        # Those that timed out have had their answer: a database hanging for hours keeps
        # only the checks of the last timeout here.
        self._waiting = [waiting for waiting in self._waiting if not waiting.called]
        self._waiting.append(answer)
        answer.addTimeout(self.timeout_s, self.clock, onTimeoutCancel=self._too_slow)
        if self._probe is None:
            self._probe = self.dbx.read(_select_one)
            self._probe.addBoth(self._probed)
        return answer

    def refresh(self) -> None:
        """Check in the background, so that `ready` stays fresh without a prober."""
        self.check()

    def _too_slow(self, result: Any, timeout: float) -> str | None:
        return self._answer(f"the database did not answer within {timeout:g} s")

    def _probed(self, outcome: Failure | None) -> None:
        self._probe = None
        waiting, self._waiting = self._waiting, []
        reason = None
        if isinstance(outcome, Failure):
            reason = "the database does not answer: " + " ".join(outcome.getErrorMessage().split())
        for answer in waiting:
            if not answer.called:  # one that timed out has had its answer
                answer.callback(self._answer(reason))

    def _answer(self, reason: str | None) -> str | None:
        self.ready = int(reason is None)
        return reason


def _select_one(db: pw.Database) -> None:
    db.execute_sql("SELECT 1").fetchone()


class _Healthz(Resource):
    isLeaf = True

    def render_GET(self, request: Request) -> bytes:
        request.setHeader(b"content-type", b"text/plain; charset=utf-8")
        return b"ok\n"


class _Readyz(Resource):
    isLeaf = True

    def __init__(self, readiness: Readiness) -> None:
        super().__init__()
        self.readiness = readiness

    def render_GET(self, request: Request) -> Any:
        request.setHeader(b"content-type", b"text/plain; charset=utf-8")
        gone = request.notifyFinish().addErrback(lambda _: None)  # fires if the prober leaves
        self.readiness.check().addCallback(self._answer, request, gone)
        return NOT_DONE_YET

    def _answer(self, reason: str | None, request: Request, gone: Deferred[None]) -> None:
        if gone.called:  # the prober gave up first
            return
        if reason is not None:
            request.setResponseCode(503)
        request.write(b"ready\n" if reason is None else reason.encode() + b"\n")
        request.finish()


class _QuietSite(Site):
    """A site that keeps no access log: probes every few seconds would fill the server's."""

    noisy = False

    def log(self, request: http.Request) -> None:
        pass


def monitoring_site(readiness: Readiness, metrics: IResource) -> Site:
    """The metrics port's site: `/healthz`, `/readyz` and `/metrics`."""
    root = Resource()
    # IResource(...) is the resource itself, as the type mypy cannot read off zope.
    root.putChild(b"healthz", IResource(_Healthz()))
    root.putChild(b"readyz", IResource(_Readyz(readiness)))
    root.putChild(b"metrics", metrics)
    return _QuietSite(root)
