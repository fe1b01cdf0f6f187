"""An asyncio client for the warung protocol, on top of the sans-IO codec.

It correlates answers to requests by id (requests may be pipelined, answers come in any
order), turns error answers into the exception class of their code, delivers pushes to
callbacks and to an async iterator, sends heartbeats, and, when the link drops, reconnects
with capped exponential backoff and jitter, resumes the session with its token and
restores every stock subscription, handing the fresh snapshot to the application as a
local `stock.snapshot` push (and a staff client's `order.subscribe`, its fresh page as a
local `order.snapshot` push).

Callbacks given to `on_event` and `on_state` are the application's code: one that raises is
logged (with its traceback, on the `protocol.client.aio` logger) and skipped, so it can
neither stop the link, the reconnect nor a request waiting for its answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import random
import secrets
import ssl
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

from protocol.client.link import SESSION_ENDED_EVENT, ConnectionLost, Push, State
from protocol.client.subscriptions import ORDERS_PAGE, Subscriptions
from protocol.errors import Unauthenticated, WarungError, from_wire
from protocol.framing import FrameDecoder, Message, encode
from protocol.ops import Op
from protocol.rules import DEFAULT_MAX_FRAME, DEFAULT_PORT, PROTOCOL_VERSION

DEFAULT_IN_FLIGHT = 64  # PROTOCOL.md: limits.max_in_flight when a server does not say
EVENT_QUEUE_LIMIT = 10_000

log = logging.getLogger(__name__)
T = TypeVar("T")


class AsyncClient:
    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = DEFAULT_PORT,
        *,
        tls: ssl.SSLContext | bool = False,
        client_name: str = "warung-python/0.1",
        connect_timeout: float = 10.0,
        call_timeout: float | None = 60.0,
        reconnect: bool = True,
        backoff_min: float = 0.1,
        backoff_max: float = 10.0,
        max_frame: int = DEFAULT_MAX_FRAME,
    ) -> None:
        self.host, self.port = host, port
        self.tls = tls
        self.client_name = client_name
        self.connect_timeout = connect_timeout
        self.call_timeout = call_timeout
        self.reconnect = reconnect
        self.backoff_min, self.backoff_max = backoff_min, backoff_max
        self.max_frame = max_frame
        self.state = State.CLOSED
        self.hello: dict[str, Any] = {}
        self.user: dict[str, Any] | None = None
        self.token: str | None = None
        self.last_seq = 0
        self.next_retry_s: float | None = None
        self._ids = itertools.count(1)
        self._pending: dict[int, tuple[asyncio.Future[dict[str, Any]], str, str | None]] = {}
        self._writer: asyncio.StreamWriter | None = None
        self._tasks: list[asyncio.Task[None]] = []  # the link's reader and heartbeat
        self._reconnecting: asyncio.Task[None] | None = None
        self._retry_now = asyncio.Event()
        self._event_callbacks: list[Callable[[Push], object]] = []
        self._state_callbacks: list[Callable[[State], object]] = []
        self._events: asyncio.Queue[Push] = asyncio.Queue(EVENT_QUEUE_LIMIT)
        self._subscriptions = Subscriptions()
        self._closing = False
        self._last_sent = 0.0
        self._slots: asyncio.Semaphore | None = None

    # -- connecting

    async def connect(self) -> dict[str, Any]:
        """Open the connection and say hello; returns the hello result (already open: as is)."""
        if self.state == State.CONNECTED:
            return self.hello
        self._closing = False
        self._set_state(State.CONNECTING)
        try:
            await self._open()
        except BaseException:
            await self.close()  # back to closed, nothing left running
            raise
        self._set_state(State.CONNECTED)
        return self.hello

    async def _open(self) -> None:
        context = self.tls if isinstance(self.tls, ssl.SSLContext) else None
        if self.tls is True:
            context = ssl.create_default_context()
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(self.host, self.port, ssl=context, limit=2**16),
            self.connect_timeout,
        )
        self._writer = writer
        self.last_seq = 0
        self._tasks = [asyncio.create_task(self._read_loop(reader, writer))]
        self.hello = await self.call(
            Op.HELLO, protocol=PROTOCOL_VERSION, client=self.client_name, max_frame=self.max_frame
        )
        self._tasks.append(asyncio.create_task(self._heartbeat_loop(writer)))  # at its pace
        if self._slots is None:
            limits = self.hello.get("limits") or {}
            self._slots = asyncio.Semaphore(int(limits.get("max_in_flight", DEFAULT_IN_FLIGHT)))

    def connect_later(self, token: str | None = None) -> None:
        """Start reconnecting without a first connection, as if the link had dropped: the
        client connects when the server answers, resuming the session `token` (kept from an
        earlier run). For an application that works offline from its start (a till)."""
        if self.state != State.CLOSED:
            raise RuntimeError("connect_later is for a client not yet connected")
        self._closing = False
        self.token = token
        self._lost()

    async def close(self) -> None:
        """Close for good: no reconnect; requests in flight fail with `ConnectionLost`."""
        self._closing = True
        writer = self._writer
        if writer is not None:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
        tasks, self._tasks = self._tasks, []
        if self._reconnecting is not None:
            tasks.append(self._reconnecting)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._fail_pending()
        self._set_state(State.CLOSED)

    async def __aenter__(self) -> AsyncClient:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- requests

    async def call(
        self, op: str, args: dict[str, Any] | None = None, /, **kw: Any
    ) -> dict[str, Any]:
        """Send one request and wait for its result; an error answer raises its exception.

        Requests may be pipelined freely: beyond the server's `max_in_flight` they wait here
        for a free slot instead of being refused.
        """
        args = {**(args or {}), **kw}
        if self._slots is None:
            return await self._send(op, args)
        async with self._slots:
            return await self._send(op, args)

    async def _send(self, op: str, args: dict[str, Any]) -> dict[str, Any]:
        writer = self._writer
        if writer is None or writer.is_closing():
            raise ConnectionLost(op, args.get("idempotency_key"), sent=False)
        request_id = next(self._ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = (future, op, args.get("idempotency_key"))
        writer.write(encode({"id": request_id, "op": op, "args": args}))
        self._last_sent = asyncio.get_running_loop().time()
        try:
            if self.call_timeout is None:
                return await future
            return await asyncio.wait_for(future, self.call_timeout)
        finally:
            self._pending.pop(request_id, None)

    async def login(
        self,
        username: str,
        password: str,
        totp: str | None = None,
        recovery_code: str | None = None,
    ) -> dict[str, Any]:
        """Sign in (with two-factor sign-in on, `totp` or a `recovery_code` too); on a
        connection signed in already this replaces its identity, which ends its
        subscriptions (PROTOCOL.md 10.4): none is taken again after a reconnect."""
        args = {"username": username, "password": password}
        if totp is not None:
            args["totp"] = totp
        if recovery_code is not None:
            args["recovery_code"] = recovery_code
        result = await self.call(Op.AUTH_LOGIN, args)
        if self.user is not None:
            self._subscriptions.forget()
        self.user, self.token = result["user"], result["token"]
        return result

    async def resume(self, token: str) -> dict[str, Any]:
        """Sign in with a session's token; as `login`, a new identity ends subscriptions."""
        replaced = self.user is not None
        result = await self._resume(token)
        if replaced:
            self._subscriptions.forget()
        return result

    async def _resume(self, token: str) -> dict[str, Any]:
        result = await self.call(Op.AUTH_RESUME, token=token)
        self.user, self.token = result["user"], token
        return result

    async def logout(self) -> None:
        await self.call(Op.AUTH_LOGOUT)
        self._forget_session()

    async def subscribe_stock(self, product_ids: list[int] | None = None) -> list[dict[str, Any]]:
        """Subscribe (None: every product); returns the snapshot. Restored on reconnect."""
        args = {"all": True} if product_ids is None else {"product_ids": product_ids}
        result = await self.call(Op.STOCK_SUBSCRIBE, args)
        self._subscriptions.took_stock(product_ids)
        snapshot: list[dict[str, Any]] = result["snapshot"]
        return snapshot

    async def unsubscribe_stock(self, product_ids: list[int] | None = None) -> None:
        args = {"all": True} if product_ids is None else {"product_ids": product_ids}
        await self.call(Op.STOCK_UNSUBSCRIBE, args)
        self._subscriptions.dropped_stock(product_ids)

    async def subscribe_orders(self, limit: int = ORDERS_PAGE) -> dict[str, Any]:
        """Staff: `order` events for every online order from now on; returns the first page
        of the paid orders waiting for staff. Restored on reconnect."""
        page = await self.call(Op.ORDER_SUBSCRIBE, limit=limit)
        self._subscriptions.orders = True
        return page

    async def unsubscribe_orders(self) -> None:
        await self.call(Op.ORDER_UNSUBSCRIBE)
        self._subscriptions.orders = False

    async def checkout(
        self,
        payment: dict[str, Any],
        idempotency_key: str | None = None,
        attempts: int = 5,
        *,
        expected_total: int | None = None,
    ) -> dict[str, Any]:
        """Check out the cart, retrying with the same key when the link drops meanwhile.

        The key makes the retry safe: the server returns the first order, charged once.
        With `expected_total` (the total the customer agreed to), a cart that costs another
        amount is refused (`conflict`, `total_changed`) and nothing is bought.
        """
        args: dict[str, Any] = {"payment": payment}
        if expected_total is not None:
            args["expected_total"] = expected_total
        return await self.call_keyed(Op.ORDER_CHECKOUT, args, idempotency_key, attempts)

    async def call_keyed(
        self, op: str, args: dict[str, Any], key: str | None = None, attempts: int = 5
    ) -> dict[str, Any]:
        """Call `op`, which takes an `idempotency_key`, sending it again with the same key
        each time the link drops before the answer, up to `attempts` sends in all.

        The key (a fresh one when none is given) makes each repeat safe: the server does the
        work once and answers every repeat with its first result. The last `ConnectionLost`
        is raised when every attempt lost its link.
        """
        key = key or secrets.token_urlsafe(16)
        for attempt in range(attempts):
            try:
                await self.wait_connected()
                return await self.call(op, args, idempotency_key=key)
            except ConnectionLost:
                if attempt == attempts - 1:
                    raise
        raise AssertionError("unreachable")

    async def wait_connected(self, timeout: float | None = None) -> None:
        """Wait until the client is connected (and signed in again, if it was)."""
        deadline = asyncio.get_running_loop().time() + (timeout or self.call_timeout or 60.0)
        while self.state != State.CONNECTED:
            if self.state == State.CLOSED:
                raise ConnectionLost("connect", sent=False)
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError("not connected")
            await asyncio.sleep(0.02)

    # -- pushes and state

    def on_event(self, callback: Callable[[Push], object]) -> Callable[[], None]:
        """Call `callback` with every push; returns a function that stops it.

        It runs on the event loop, between reads: keep it short. If it raises, the error is
        logged and the client goes on.
        """
        self._event_callbacks.append(callback)
        return lambda: self._event_callbacks.remove(callback)

    def on_state(self, callback: Callable[[State], object]) -> Callable[[], None]:
        """Call `callback` on every state change; returns a function that stops it.

        If it raises, the error is logged and the client goes on.
        """
        self._state_callbacks.append(callback)
        return lambda: self._state_callbacks.remove(callback)

    async def events(self) -> AsyncIterator[Push]:
        """Every push, in order. If the application falls behind by more than 10,000, the
        oldest are dropped; `seq` shows the gap and a re-subscribe gives a fresh snapshot."""
        while True:
            yield await self._events.get()

    def _deliver(self, push: Push) -> None:
        if self._events.full():
            self._events.get_nowait()
        self._events.put_nowait(push)
        _notify(self._event_callbacks, push, push.event)

    def _set_state(self, state: State) -> None:
        if state == self.state:
            return
        self.state = state
        _notify(self._state_callbacks, state, state)

    # -- the link

    async def _read_loop(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        decoder = FrameDecoder(self.max_frame)
        try:
            while True:
                data = await reader.read(2**16)
                if not data:
                    break
                for event in decoder.feed(data):
                    if isinstance(event, Message):
                        self._incoming(event.body)
                if decoder.broken:
                    break
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()
            if self._writer is writer:
                self._lost()

    def _incoming(self, body: dict[str, Any]) -> None:
        if "event" in body:
            self.last_seq = body.get("seq", self.last_seq)
            if body["event"] == SESSION_ENDED_EVENT:  # the server signed this connection out
                self._forget_session()
            self._deliver(Push(body["event"], body.get("seq", 0), body.get("data") or {}))
            return
        if body.get("id") is None and not body.get("ok"):
            self._fail_pending(from_wire(body.get("error")))  # the server refuses the link
            return
        request_id = body.get("id")
        entry = self._pending.get(request_id) if isinstance(request_id, int) else None
        if entry is None or entry[0].done():
            return
        if body.get("ok"):
            entry[0].set_result(body.get("result") or {})
        else:
            entry[0].set_exception(from_wire(body.get("error")))

    async def _heartbeat_loop(self, writer: asyncio.StreamWriter) -> None:
        loop = asyncio.get_running_loop()
        self._last_sent = loop.time()
        while not writer.is_closing():
            interval = float(self.hello.get("heartbeat_s", 30))
            await asyncio.sleep(max(0.05, self._last_sent + interval - loop.time()))
            if loop.time() - self._last_sent >= interval:
                with contextlib.suppress(WarungError, ConnectionLost):
                    try:
                        # not through `call`: a slot may be long in coming when every one
                        # waits on a slow answer, and a live server is not a lost one
                        await asyncio.wait_for(self._send(Op.PING, {}), interval)
                    except TimeoutError:  # a server that answers nothing is gone (6.4)
                        if self._writer is writer:
                            writer.close()
                            self._lost()
                        return

    def _fail_pending(self, error: Exception | None = None) -> None:
        for future, op, key in list(self._pending.values()):
            if not future.done():
                future.set_exception(error or ConnectionLost(op, key))
        self._pending.clear()

    def _lost(self) -> None:
        self._writer = None
        for task in self._tasks:
            if task is not asyncio.current_task():
                task.cancel()
        self._fail_pending()
        if self._closing or not self.reconnect:
            self._set_state(State.CLOSED)
            return
        self._set_state(State.RECONNECTING)
        self._tasks = []
        # A link lost while reconnecting (in hello or the resume) is the running loop's to
        # retry: a second loop beside it could mark the client connected on its own link
        # while the other's newer link, the one calls go out on, is not signed in yet.
        if self._reconnecting is None or self._reconnecting.done():
            self._reconnecting = asyncio.create_task(self._reconnect_loop())

    def retry_now(self) -> bool:
        """While reconnecting: end the wait and try at once (a user's "retry now").
        Returns False, doing nothing, in any other state."""
        if self.state != State.RECONNECTING:
            return False
        self._retry_now.set()
        return True

    async def _reconnect_loop(self) -> None:
        delay = self.backoff_min
        while not self._closing:
            self.next_retry_s = delay
            self._retry_now.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._retry_now.wait(), delay * random.uniform(0.5, 1.0))
            try:
                await self._open()
                await self._restore()
            except (OSError, TimeoutError, ConnectionLost, WarungError):
                if self._writer is not None:
                    self._writer.close()
                    self._writer = None
                delay = min(self.backoff_max, delay * 2)
                continue
            self.next_retry_s = None
            self._set_state(State.CONNECTED)
            return

    def _forget_session(self) -> None:
        """Signed out: no token to resume with, no subscription to take again."""
        self.user = self.token = None
        self._subscriptions.forget()

    async def _restore(self) -> None:
        """Sign in again with the token and take every subscription afresh.

        A token that no longer resumes (signed out elsewhere, expired, account disabled)
        leaves the client connected but signed out, with a local `session.ended` push.
        """
        if self.token is not None:
            try:  # the same identity on a new connection: its subscriptions are taken again
                await self._resume(self.token)
            except Unauthenticated as ended:
                self._forget_session()
                self._deliver(Push(SESSION_ENDED_EVENT, 0, {"message": ended.message}))
                return
        await self._subscriptions.restore(self.call, self._deliver)


def _notify(callbacks: list[Callable[[T], object]], value: T, name: str) -> None:
    """Call each of the application's callbacks with `value` (`name` in the log if one raises)."""
    for callback in list(callbacks):  # a callback may unsubscribe itself
        try:
            callback(value)
        except Exception:
            log.exception("warung client: callback %r raised on %s; ignored", callback, name)
