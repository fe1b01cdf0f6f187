"""Ended sessions are deleted a while after they end (`prune_sessions`, run hourly by the
server), on SQLite and PostgreSQL; live ones and those ended lately stay."""

import time
from datetime import timedelta

from db.models import Session, User, utcnow
from db.transactions import write_transaction
from server.services.account_sessions import prune_sessions

DAY = timedelta(days=1)


def test_sessions_ended_before_the_cutoff_go_and_the_others_stay(database):
    user = User.create(username="ani", password_hash="x", role="customer")
    now = utcnow()

    def session(name: str, expires_in: timedelta, revoked_ago: timedelta | None = None) -> int:
        revoked = None if revoked_ago is None else now - revoked_ago
        return Session.create(
            user=user, token_hash=name * 32, expires_at=now + expires_in, revoked_at=revoked
        ).id

    session("a1", 10 * DAY, revoked_ago=31 * DAY)  # signed out a month ago
    session("a2", -31 * DAY)  # past its absolute lifetime a month ago
    kept = {
        session("b1", 10 * DAY, revoked_ago=DAY),
        session("b2", -DAY),
        session("b3", 10 * DAY),  # live
    }
    with write_transaction(database):
        pruned = prune_sessions(database, time.time() - 30 * 86_400)
    assert pruned == 2
    assert {s.id for s in Session.select()} == kept
