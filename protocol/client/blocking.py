"""A blocking client for scripts and notebooks: `AsyncClient` run on a private event loop."""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

from protocol.client.aio import AsyncClient
from protocol.client.link import Push, State
from protocol.rules import DEFAULT_PORT

T = TypeVar("T")


class Client:
    """Same methods as `AsyncClient`, blocking; pushes wait in `next_event()`.

    >>> with Client("127.0.0.1", 7411) as shop:
    ...     shop.login("customer", "secret")
    ...     shop.call("catalog.list", limit=5)
    """

    def __init__(self, host: str = "127.0.0.1", port: int = DEFAULT_PORT, **options: Any) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._events: queue.Queue[Push] = queue.Queue()
        self.aio: AsyncClient = self._run(self._make(host, port, options))
        self.aio.on_event(self._events.put)

    async def _make(self, host: str, port: int, options: dict[str, Any]) -> AsyncClient:
        return AsyncClient(host, port, **options)

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def connect(self) -> dict[str, Any]:
        return self._run(self.aio.connect())

    def close(self) -> None:
        self._run(self.aio.close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()

    def __enter__(self) -> Client:
        self.connect()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def call(self, op: str, args: dict[str, Any] | None = None, /, **kw: Any) -> dict[str, Any]:
        return self._run(self.aio.call(op, args, **kw))

    def login(
        self,
        username: str,
        password: str,
        totp: str | None = None,
        recovery_code: str | None = None,
    ) -> dict[str, Any]:
        return self._run(self.aio.login(username, password, totp, recovery_code))

    def resume(self, token: str) -> dict[str, Any]:
        return self._run(self.aio.resume(token))

    def logout(self) -> None:
        self._run(self.aio.logout())

    def subscribe_stock(self, product_ids: list[int] | None = None) -> list[dict[str, Any]]:
        return self._run(self.aio.subscribe_stock(product_ids))

    def unsubscribe_stock(self, product_ids: list[int] | None = None) -> None:
        self._run(self.aio.unsubscribe_stock(product_ids))

    def checkout(
        self,
        payment: dict[str, Any],
        idempotency_key: str | None = None,
        *,
        expected_total: int | None = None,
    ) -> dict[str, Any]:
        return self._run(self.aio.checkout(payment, idempotency_key, expected_total=expected_total))

    def wait_connected(self, timeout: float | None = None) -> None:
        self._run(self.aio.wait_connected(timeout))

    def next_event(self, timeout: float | None = None) -> Push:
        """The next push; raises `queue.Empty` after `timeout` seconds without one."""
        return self._events.get(timeout=timeout)

    @property
    def state(self) -> State:
        return self.aio.state
