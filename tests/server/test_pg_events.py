"""server/pg_events.PgEventListener on the reactor's side: once LISTEN is in place again
after a lost connection it catches up on the stock changes it missed; a catch-up that
fails is logged, saying what failed, rather than left as an unhandled Deferred error."""

from __future__ import annotations

from twisted.internet.defer import fail

from server.events import EventHub
from server.pg_events import PgEventListener


def test_a_failing_catch_up_after_a_reconnect_is_logged_naming_it(logged) -> None:
    resyncs: list[str] = []

    def resync():
        resyncs.append("resync")
        return fail(ConnectionError("the database went away"))

    listener = PgEventListener(None, None, EventHub(), resync, lambda order, customer: None)
    listener._connected()  # the first LISTEN: nothing to catch up on
    assert listener._ready.called and not resyncs
    listener._connected()  # after a reconnect
    assert resyncs == ["resync"]
    (failed,) = [event for event in logged if "log_failure" in event]
    assert "cannot catch up on the stock changes" in failed["log_format"]
    assert isinstance(failed["log_failure"].value, ConnectionError)
