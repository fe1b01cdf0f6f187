"""The Python client SDK: `AsyncClient` (asyncio) and `Client` (blocking)."""

from protocol.client.aio import AsyncClient
from protocol.client.blocking import Client
from protocol.client.link import ConnectionLost, Push, State

__all__ = ["AsyncClient", "Client", "ConnectionLost", "Push", "State"]
