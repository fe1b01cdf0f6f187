"""Lean clients for `python -m bench` beyond `bench.lean_client`'s: signed in by a known session
token (no password hash per client), and watchers that stamp the `stock` pushes they get."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from bench.lean_client import HOST, BenchError, LeanClient
from protocol.framing import Message
from protocol.rules import DEFAULT_MAX_FRAME, PROTOCOL_VERSION

C = TypeVar("C", bound=LeanClient)


class Watcher(LeanClient):
    """A LeanClient that also keeps, for each `stock` push, when it came and its stock."""

    def __init__(self) -> None:
        super().__init__()
        self.pushes: list[tuple[float, int]] = []  # (perf_counter, stock)
        self.on_push: Callable[[], None] | None = None

    def data_received(self, data: bytes) -> None:
        now = time.perf_counter()
        try:
            for event in self.decoder.feed(data):
                if not isinstance(event, Message):
                    raise BenchError(f"bad frame from the server: {event}")
                body = event.body
                if "id" in body:
                    self.on_answer(self._check(body), body)
                elif body.get("event") == "stock":
                    self.pushes.append((now, body["data"]["stock"]))
                    if self.on_push is not None:
                        self.on_push()
        except BenchError as exc:
            self.fail(exc)


async def opened(kind: type[C], port: int) -> C:
    _, client = await asyncio.get_running_loop().create_connection(kind, HOST, port)
    return client


async def signed_in(kind: type[C], port: int, token: str) -> C:
    """A client of warung at `port` that said hello and resumed the session `token`."""
    client = await opened(kind, port)
    await client.call(
        "hello", protocol=PROTOCOL_VERSION, client="warung-bench/0.1", max_frame=DEFAULT_MAX_FRAME
    )
    await client.call("auth.resume", token=token)
    return client


async def in_batches(make: Callable[[int], Awaitable[C]], count: int, batch: int = 200) -> list[C]:
    """`count` clients made `batch` at a time (a burst of thousands would meet the listen
    backlog and the server's per-address connection rate)."""
    made: list[C] = []
    for start in range(0, count, batch):
        made += await asyncio.gather(*(make(i) for i in range(start, min(count, start + batch))))
    return made


def close_all(clients: list[Any]) -> None:
    for client in clients:
        client.close()


class Tally:
    """Counts calls (pushes) until `target`; `done` resolves then."""

    def __init__(self, target: int) -> None:
        self.count, self.target = 0, target
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if target <= 0:
            self.done.set_result(None)

    def __call__(self) -> None:
        self.count += 1
        if self.count >= self.target and not self.done.done():
            self.done.set_result(None)

    async def wait(self, timeout: float) -> None:
        try:
            await asyncio.wait_for(self.done, timeout)
        except TimeoutError:
            raise BenchError(f"{self.count} of {self.target} pushes in {timeout:.0f} s") from None
