"""A client as a shop's device runs it, remembering what it was pushed and the states its
link went through, for tests that watch clients across a server going away."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field

from protocol.client import AsyncClient, Push, State


@dataclass
class Station:
    """A client through the proxy, with what it was pushed and the states it went through."""

    client: AsyncClient
    pushes: list[tuple[float, Push]] = field(default_factory=list)
    states: list[State] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.client.on_event(lambda push: self.pushes.append((time.monotonic(), push)))
        self.client.on_state(self.states.append)

    @classmethod
    async def connected(cls, port: int) -> Station:
        station = cls(AsyncClient("127.0.0.1", port))
        await station.client.connect()
        return station

    @classmethod
    async def signed_in(cls, port: int, username: str, password: str) -> Station:
        station = await cls.connected(port)
        await station.client.login(username, password)
        return station

    @classmethod
    async def new_customer(cls, port: int) -> Station:
        station = await cls.connected(port)
        name, password = f"d{secrets.token_hex(4)}", secrets.token_urlsafe(12)
        await station.client.call("auth.register", username=name, password=password)
        await station.client.login(name, password)
        return station

    @classmethod
    async def resumed(cls, port: int, token: str) -> Station:
        station = await cls.connected(port)
        await station.client.resume(token)
        return station

    def saw(self, event: str) -> bool:
        return any(push.event == event for _, push in self.pushes)

    def saw_stock(self, product_id: int, stock: int) -> bool:
        return self.stock_seen(product_id, stock) is not None

    def stock_seen(self, product_id: int, stock: int) -> float | None:
        """When the stock event that put the product at `stock` arrived."""
        return next(
            (
                at
                for at, push in self.pushes
                if push.event == "stock"
                and push.data.get("product_id") == product_id
                and push.data.get("stock") == stock
            ),
            None,
        )

    def order_status(self, order_id: int | None) -> str | None:
        """The newest status pushed for that order (None: for any order)."""
        statuses = [
            push.data["status"]
            for _, push in self.pushes
            if push.event == "order" and order_id in (None, push.data["id"])
        ]
        return statuses[-1] if statuses else None
