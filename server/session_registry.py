"""Which connections are signed in with which session, so a sign-out reaches all of them.

The factory adds and drops connections as they sign in and out; the auth service only
asks for a session to be signed out (through its narrow `auth.Sessions` view), so it needs
neither the factory nor the connections.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Protocol

from protocol.ops import EventName
from server.dispatch import Identity


class SignsIn(Protocol):
    identity: Identity | None

    def sign_in(self, identity: Identity | None) -> None: ...

    def send_event(self, event: str, data: dict[str, Any]) -> None: ...


class SessionRegistry:
    def __init__(self) -> None:
        self._by_session: dict[int, set[SignsIn]] = defaultdict(set)

    def add(self, conn: SignsIn, session_id: int) -> None:
        self._by_session[session_id].add(conn)

    def discard(self, conn: SignsIn, session_id: int) -> None:
        peers = self._by_session.get(session_id)
        if peers is not None:
            peers.discard(conn)
            if not peers:
                del self._by_session[session_id]

    def sign_out_session(self, session_id: int, reason: str = "logout") -> None:
        """Every connection signed in with this session is told why (`session.ended`) and
        signed out."""
        for conn in list(self._by_session.get(session_id, ())):
            conn.send_event(EventName.SESSION_ENDED, {"reason": reason})
            conn.sign_in(None)

    def sign_out_user(self, user_id: int, reason: str) -> None:
        """Every connection here signed in as this user, on any session, is told why and
        signed out (an admin disabled the account or changed its role)."""
        for session_id, peers in list(self._by_session.items()):
            if any(
                conn.identity is not None and conn.identity.user_id == user_id for conn in peers
            ):
                self.sign_out_session(session_id, reason)

    def session_ids(self) -> list[int]:
        """The sessions some connection here is signed in with."""
        return list(self._by_session)
