"""Textual messages that carry what the network says into the app."""

from __future__ import annotations

from typing import Any

from textual.message import Message

from client_tui.stock import Level
from protocol.client import State
from protocol.errors import WarungError


class StockChanged(Message):
    """New stock levels: a batch of pushes, or a snapshot (`replace`: after a reconnect)."""

    def __init__(self, levels: dict[int, Level], replace: bool = False) -> None:
        super().__init__()
        self.levels = levels
        self.replace = replace


class OrderChanged(Message):
    """An `order` push: one of the user's orders was created or changed status."""

    def __init__(self, order: dict[str, Any]) -> None:
        super().__init__()
        self.order = order


class CartChanged(Message):
    """The cart as the server returned it after a cart op or a re-read."""

    def __init__(self, cart: dict[str, Any]) -> None:
        super().__init__()
        self.cart = cart


class ConnectionChanged(Message):
    """The SDK's connection state moved (connecting, connected, reconnecting, closed)."""

    def __init__(self, state: State) -> None:
        super().__init__()
        self.state = state


class PushesLost(Message):
    """A gap in push `seq`: some pushes never arrived, so what is shown may be stale."""


class SessionEnded(Message):
    """The server no longer takes this session: it answered `unauthenticated`, or told so
    with a `session.ended` push, whose `reason` is kept ("" when not told)."""

    def __init__(self, reason: str = "") -> None:
        super().__init__()
        self.reason = reason


class ServerDraining(Message):
    """The server said it is going down; the SDK reconnects by itself."""


class CallRefused(Message):
    """The server refused a call the app made by itself (a refresh, a subscription)."""

    def __init__(self, error: WarungError, title: str) -> None:
        super().__init__()
        self.error = error
        self.title = title
