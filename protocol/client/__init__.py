"""The Python client SDK: `AsyncClient` (asyncio) and `Client` (blocking)."""

from protocol.client.aio import AsyncClient, ConnectionLost, Push, State
from protocol.client.blocking import Client

__all__ = ["AsyncClient", "Client", "ConnectionLost", "Push", "State"]
