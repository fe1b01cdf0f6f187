"""server/pg_events.PgEventListener on the reactor's side: once LISTEN is in place again
after a lost connection it catches up on the stock changes it missed; a catch-up that
fails is logged, saying what failed, rather than left as an unhandled Deferred error."""

from __future__ import annotations

from collections.abc import Callable

import peewee as pw
from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.task import Clock

from server.dispatch import Identity
from server.events import EventHub, StockChange, next_turn
from server.pg_events import SIGN_OUT_CHANNEL, PgEventListener
from server.session_registry import SessionRegistry


def test_a_failing_catch_up_after_a_reconnect_is_logged_naming_it(logged) -> None:
    resyncs: list[str] = []

    def resync() -> Deferred[list[StockChange]]:
        resyncs.append("resync")
        return fail(ConnectionError("the database went away"))

    listener = unconnected(resync)
    listener._connected()  # the first LISTEN: nothing to catch up on
    assert listener._ready.called and not resyncs
    listener._connected()  # after a reconnect
    assert resyncs == ["resync"]
    (failed,) = [event for event in logged if "log_failure" in event]
    assert "cannot catch up on the stock changes" in failed["log_format"]
    assert isinstance(failed["log_failure"].value, ConnectionError)


def test_a_sign_out_from_another_server_reaches_the_users_connections_here() -> None:
    """`user_id:reason` on the sign-out channel signs out every connection of that user on
    any of its sessions, telling each why; another user's connection stays signed in."""
    registry = SessionRegistry()
    told: list[tuple[str, str, dict[str, object]]] = []
    conns = {}
    for name, user_id, session_id in (("laptop", 7, 70), ("till", 7, 71), ("other", 8, 80)):
        conns[name] = _Conn(name, told, Identity(user_id, name, "clerk", session_id))
        registry.add(conns[name], session_id)
    listener = unconnected(lambda: succeed([]), registry.sign_out_user)

    listener._deliver([(SIGN_OUT_CHANNEL, "7:role_changed")])

    assert sorted(told) == [
        ("laptop", "session.ended", {"reason": "role_changed"}),
        ("till", "session.ended", {"reason": "role_changed"}),
    ]
    assert conns["laptop"].identity is None and conns["till"].identity is None
    assert conns["other"].identity is not None


def unconnected(
    resync: Callable[[], Deferred[list[StockChange]]],
    signed_out: Callable[[int, str], None] | None = None,
) -> PgEventListener:
    """A listener never started: its database is never opened, no order change comes."""

    def order_changed(order_id: int, customer_id: int, status: str) -> None:
        raise AssertionError(f"order {order_id} changed")

    hub = EventHub(next_turn(Clock()))
    return PgEventListener(
        pw.PostgresqlDatabase(None), None, hub, resync, order_changed, signed_out
    )


class _Conn:
    def __init__(self, name: str, told: list, identity: Identity | None) -> None:
        self.name, self.told, self.identity = name, told, identity

    def send_event(self, event: str, data: dict[str, object]) -> None:
        self.told.append((self.name, event, data))

    def sign_in(self, identity: Identity | None) -> None:
        self.identity = identity
