"""The load generator's client: one connection, one request in flight, on the project's
sans-IO framing only, with no future, task or SDK in its measured loop. The generator shares
the machine's cores with the server it measures, so it is kept lean."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from protocol.framing import FrameDecoder, Message, encode
from protocol.rules import DEFAULT_MAX_FRAME

HOST = "127.0.0.1"
Answer = dict[str, Any]
Step = Callable[[int], tuple[str, dict[str, Any]]]  # client index -> (op, args)


class BenchError(Exception):
    """An answer or event the run cannot go on with: it stops and says why."""


class LeanClient(asyncio.Protocol):
    """One connection, one request in flight, on the project's sans-IO framing only.

    Each answer is checked (`_check`), then handed to `on_answer(ok, body)`; pushes (no
    `id`) are skipped. A failure goes to the future the caller awaits (`expect`).
    """

    def __init__(self) -> None:
        self.decoder = FrameDecoder(DEFAULT_MAX_FRAME)
        self.transport: asyncio.Transport | None = None
        self.request_id = 0
        self.op = ""
        self.on_answer: Callable[[bool, Answer], None] = self._unexpected
        self.waiter: asyncio.Future[Any] | None = None
        self.error: BenchError | None = None
        self.closing = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closing:
            self.fail(BenchError(f"the server closed the connection ({exc or 'no error'})"))

    def data_received(self, data: bytes) -> None:
        try:
            for event in self.decoder.feed(data):
                if not isinstance(event, Message):
                    raise BenchError(f"bad frame from the server: {event}")
                body = event.body
                if "id" in body:  # no id: a push, e.g. the `order` event of a checkout
                    self.on_answer(self._check(body), body)
        except BenchError as exc:
            self.fail(exc)

    def _check(self, body: Answer) -> bool:
        """True for a success, False for `out_of_stock`; anything else raises BenchError."""
        if body["id"] != self.request_id:
            raise BenchError(
                f"{self.op}: answer has id {body['id']!r}, sent {self.request_id}"
                f" ({body.get('error') or 'ok'})"
            )
        if body.get("ok") is True:
            return True
        error = body.get("error") or {}
        if error.get("code") == "out_of_stock":
            return False
        raise BenchError(f"{self.op} failed: {error.get('code')}: {error.get('message')}")

    def _unexpected(self, ok: bool, body: Answer) -> None:
        raise BenchError(f"answer with no request waiting for it: {body}")

    def send(self, op: str, args: dict[str, Any]) -> None:
        assert self.transport is not None
        self.request_id += 1
        self.op = op
        self.transport.write(encode({"id": self.request_id, "op": op, "args": args}))

    def expect(self) -> asyncio.Future[Any]:
        """A fresh future for the next outcome; fails at once if the connection has."""
        self.waiter = asyncio.get_running_loop().create_future()
        if self.error is not None:
            self.waiter.set_exception(self.error)
        return self.waiter

    def fail(self, exc: BenchError) -> None:
        self.error = self.error or exc
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(exc)
        if self.transport is not None:
            self.transport.close()

    async def call(self, op: str, **args: Any) -> Answer:
        """Send one request and wait for its result: for setup, not for the measured loop."""
        waiter = self.expect()

        def settle(ok: bool, body: Answer) -> None:
            if ok:
                waiter.set_result(body["result"])
            else:
                waiter.set_exception(BenchError(f"{op} failed: {body['error']}"))

        self.on_answer = settle
        self.send(op, args)
        return await waiter

    def close(self) -> None:
        self.closing = True
        if self.waiter is not None and not self.waiter.done():
            self.waiter.cancel()
        if self.transport is not None:
            self.transport.close()
