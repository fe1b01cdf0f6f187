"""SDK callbacks turned into Textual messages, with bursts of stock pushes batched.

The SDK calls back on the app's own event loop for every push. A sale of a popular
product, or a restock of many, can bring hundreds of `stock` pushes at once; redrawing per
push would make the table stutter. So stock values are collected in a dict (the newest
version per product wins) and posted as one `StockChanged` on a short timer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from textual.message import Message

from client_tui.messages import (
    ConnectionChanged,
    OrderChanged,
    PushesLost,
    ServerDraining,
    SessionEnded,
    StockChanged,
)
from client_tui.stock import Level, levels_from_snapshot
from protocol.client import AsyncClient, Push, State
from protocol.client.link import SESSION_ENDED_EVENT, SNAPSHOT_EVENT
from protocol.ops import EventName

FLUSH_S = 0.1


class PushBridge:
    def __init__(
        self, client: AsyncClient, post: Callable[[Message], Any], flush_s: float = FLUSH_S
    ) -> None:
        self._post = post
        self._flush_s = flush_s
        self._pending: dict[int, Level] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._last_seq = 0
        self._closed = False
        client.on_event(self._on_push)
        client.on_state(self._on_state)

    def _on_push(self, push: Push) -> None:
        if self._closed:
            return
        if push.event == SNAPSHOT_EVENT:
            self.flush()
            self._post(StockChanged(levels_from_snapshot(push.data["snapshot"]), replace=True))
            return
        if push.event == SESSION_ENDED_EVENT:  # told by the server, or the SDK's resume failed
            self._post(SessionEnded(str(push.data.get("reason", ""))))
            return
        self._check_seq(push.seq)
        if push.event == EventName.STOCK:
            self._collect(push.data)
        elif push.event == EventName.ORDER:
            self._post(OrderChanged(push.data))
        elif push.event == EventName.SERVER_SHUTDOWN:
            self._post(ServerDraining())

    def _check_seq(self, seq: int) -> None:
        """`seq` starts at 1 on every connection and grows by one per push."""
        if seq != 1 and self._last_seq and seq > self._last_seq + 1:
            self._post(PushesLost())
        self._last_seq = seq

    def _collect(self, data: dict[str, Any]) -> None:
        level = Level(data["stock"], data["version"])
        held = self._pending.get(data["product_id"])
        if held is None or level.version > held.version:
            self._pending[data["product_id"]] = level
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self._flush_s, self.flush)

    def flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._pending:
            levels, self._pending = self._pending, {}
            self._post(StockChanged(levels))

    def _on_state(self, state: State) -> None:
        if self._closed:
            return
        if state == State.CONNECTED:
            self._last_seq = 0
        self._post(ConnectionChanged(state))

    def close(self) -> None:
        """Deliver nothing more: the client is being let go (the SDK keeps its callbacks)."""
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._pending.clear()
