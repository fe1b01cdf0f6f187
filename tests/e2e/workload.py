"""The clients of the invariant workload (tests/e2e/test_invariants.py): customers who check
out and cancel, clerks who sell at an open till, restock, adjust and refund, all real
clients over TCP with their own seeded choices and a fixed number of operations.

Each user makes one call at a time through `Careful`, which repeats a call whose answer was
lost (the link dropped, the server was killed) with the same arguments and key until it is
answered, as a careful client would. What each was told goes into the `Ledger`, against
which the test checks the database afterwards.
"""

from __future__ import annotations

import asyncio
import random
import re
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from protocol.client import AsyncClient, ConnectionLost, State
from protocol.errors import (
    Conflict,
    InvalidState,
    OutOfStock,
    PaymentDeclined,
    Unavailable,
    WarungError,
)

Answer = dict[str, Any] | WarungError
REPEAT_EVERY = 5  # each user sends its first keyed call of an op twice, then every fifth
LATER = {"paid": {"paid", "shipped", "delivered", "cancelled", "refunded"}}
LATER["completed"] = {"completed", "refunded"}
LATER["refunded"] = {"refunded"}
LATER["cancelled"] = {"cancelled"}


class Traffic:
    """Calls answered, answers lost, and the card payments running per server port.

    `kill_when_quiet` kills a server a moment (0 to 4 ms, from its seed) after a call was
    sent to it, so that the call is cut before, during or after its work, but never while
    a card payment or refund runs there: on PostgreSQL a checkout cut between its two transactions
    stays `pending`, its key `in_progress`, for the 120 s lease (PROTOCOL.md 12.5), longer
    than this test may take.
    """

    def __init__(self, seed: str) -> None:
        self.rng = random.Random(seed)
        self.paying: Counter[int] = Counter()
        self.lost_answers = 0
        self.answered = 0
        self._kill: tuple[int, int, Callable[[], None]] | None = None

    def kill_when_quiet(self, port: int, after: int, kill: Callable[[], None]) -> None:
        """Call `kill` once `after` calls were answered, just after a call leaves for `port`."""
        self._kill = (port, after, kill)

    def sending(self, port: int, pays: bool) -> None:
        """A call is about to be written to `port`."""
        if self._kill is None or pays or port != self._kill[0] or self.answered < self._kill[1]:
            return
        armed, self._kill = self._kill, None
        delay = self.rng.uniform(0.0, 0.004)
        asyncio.get_running_loop().call_later(delay, self._try_kill, armed)

    def _try_kill(self, armed: tuple[int, int, Callable[[], None]]) -> None:
        port, _, kill = armed
        if self.paying[port]:
            self._kill = armed  # a payment started meanwhile: at the next call
        else:
            kill()


class Careful:
    """One signed-in user's connection, making one call at a time, each until answered."""

    def __init__(self, client: AsyncClient, traffic: Traffic, deadline: float) -> None:
        self.client = client
        self.traffic = traffic
        self.deadline = deadline
        self.drops = 0
        client.on_state(self._count_drop)

    def _count_drop(self, state: State) -> None:
        if state == State.RECONNECTING:
            self.drops += 1

    async def call(self, op: str, args: dict[str, Any], *, pays: bool = False) -> Answer:
        """The answer, a result or the server's refusal; `pays`: a card payment runs."""
        port = self.client.port
        self.traffic.paying[port] += pays
        try:
            return await self._until_answered(op, args, pays)
        finally:
            self.traffic.paying[port] -= pays
            self.traffic.answered += 1

    async def _until_answered(self, op: str, args: dict[str, Any], pays: bool) -> Answer:
        while True:
            try:
                await self.client.wait_connected(self.deadline - time.monotonic())
                self.traffic.sending(self.client.port, pays)
                return await self.client.call(op, args)
            except (ConnectionLost, TimeoutError):
                self.traffic.lost_answers += 1
            except Conflict as busy:
                if busy.details.get("reason") != "in_progress":
                    return busy
            except Unavailable:  # a server starting or stopping: the same call again
                pass
            except WarungError as refused:
                return refused
            await self._pause()

    async def _pause(self) -> None:
        """A moment before sending again, within the deadline."""
        assert time.monotonic() < self.deadline, "the workload ran past its deadline"
        await asyncio.sleep(0.02)


@dataclass
class Sold:
    """An order a client was told of: what it holds and the latest status it was told."""

    id: int
    user: str
    key: str
    channel: str
    method: str
    lines: dict[int, int]
    total: int
    status: str
    declined: bool = False
    refunded: Counter[int] = field(default_factory=Counter)  # the most refunded_qty told

    def told(self, order: dict[str, Any]) -> None:
        """A later answer about this order: its status and refunded units."""
        if order["status"] in LATER[self.status]:
            self.status = order["status"]
        for line in order["lines"]:
            pid = line["product_id"]
            self.refunded[pid] = max(self.refunded[pid], line["refunded_qty"])

    @property
    def holds(self) -> dict[int, int]:
        """Units this order keeps out of stock, by product."""
        if self.status == "cancelled":
            return {}
        return {pid: qty - self.refunded[pid] for pid, qty in self.lines.items()}


@dataclass
class Till:
    register_id: int
    opening: int
    cash_sales: int = 0
    cash_refunds: int = 0

    @property
    def expected(self) -> int:
        return self.opening + self.cash_sales - self.cash_refunds


@dataclass
class Ledger:
    """Everything the clients were told, by every client."""

    prices: dict[int, int]
    orders: dict[int, Sold] = field(default_factory=dict)
    stock_keys: dict[str, tuple[int, int]] = field(default_factory=dict)  # key: product, delta
    refunds: dict[str, dict[str, Any]] = field(default_factory=dict)  # key: the refund told
    refused: Counter[str] = field(default_factory=Counter)  # refusals by code
    repeats: Counter[str] = field(default_factory=Counter)  # calls sent twice, by op
    tills: dict[str, Till] = field(default_factory=dict)

    def record_order(
        self, user: str, key: str, method: str, order: dict[str, Any], declined: bool = False
    ) -> Sold:
        sold = Sold(
            id=order["id"],
            user=user,
            key=key,
            channel=order["channel"],
            method=method,
            lines={line["product_id"]: line["qty"] for line in order["lines"]},
            total=order["total"],
            status=order["status"],
            declined=declined,
        )
        self.orders[sold.id] = sold
        return sold

    def refundable(self) -> list[Sold]:
        return [o for o in self.orders.values() if o.status in ("paid", "completed")]


@dataclass
class Actor:
    """One user of the workload: its name, connection, random choices and key sequence."""

    name: str
    careful: Careful
    rng: random.Random
    ledger: Ledger
    keys: int = 0
    done: Counter[str] = field(default_factory=Counter)  # keyed calls that succeeded, by op

    def key(self) -> str:
        self.keys += 1
        return f"{self.name}-{self.keys}"

    async def keyed(self, op: str, args: dict[str, Any], *, pays: bool = False) -> Answer:
        """A call with its key, now and then (when it succeeded) sent again as if its answer
        had been lost: the repeat must answer with the same order (checkout, sale) or the
        very same result."""
        answer = await self.careful.call(op, args, pays=pays)
        if isinstance(answer, WarungError):
            return answer
        self.done[op] += 1
        if self.done[op] % REPEAT_EVERY != 1:
            return answer
        again = await self.careful.call(op, args, pays=pays)
        self.ledger.repeats[op] += 1
        assert not isinstance(again, WarungError), (op, args, again)
        if op in ("order.checkout", "clerk.sale"):  # the same order, as it is now
            same = ("id", "total", "change_due")
            assert [again.get(k) for k in same] == [answer.get(k) for k in same], (answer, again)
        else:
            assert again == answer, (op, answer, again)
        return answer

    def basket(self, most: int) -> dict[int, int]:
        """One to two products, each 1 to `most` units."""
        products = self.rng.sample(sorted(self.ledger.prices), self.rng.randint(1, 2))
        return {pid: self.rng.randint(1, most) for pid in products}

    def total(self, basket: dict[int, int]) -> int:
        return sum(self.ledger.prices[pid] * qty for pid, qty in basket.items())

    def refused(self, answer: WarungError, *allowed: type[WarungError]) -> None:
        """Count a refusal, which must be one of `allowed` (or out of stock)."""
        assert isinstance(answer, (OutOfStock, *allowed)), (self.name, answer, answer.details)
        self.ledger.refused[answer.code] += 1


# -- customers


async def customer_turn(me: Actor) -> None:
    mine = [o for o in me.ledger.orders.values() if o.user == me.name and o.status == "paid"]
    if mine and me.rng.random() < 0.25:
        await cancel(me, me.rng.choice(mine))
    else:
        await checkout(me)


async def checkout(me: Actor) -> None:
    basket = me.basket(3)
    await me.careful.call("cart.clear", {})
    for pid, qty in basket.items():
        answer = await me.careful.call("cart.set", {"product_id": pid, "qty": qty})
        if isinstance(answer, WarungError):
            me.refused(answer)
            return
    method = me.rng.choice(["card", "ewallet"])
    token = "decline" if me.rng.random() < 0.1 else "tok"
    key = me.key()
    args = {"idempotency_key": key, "payment": {"method": method, "token": token}}
    answer = await me.keyed("order.checkout", args, pays=True)
    _record_sale(me, "online", key, method, basket, answer)


async def cancel(me: Actor, order: Sold) -> None:
    answer = await me.careful.call("order.cancel", {"order_id": order.id})
    if isinstance(answer, InvalidState) and answer.details.get("status") == "cancelled":
        answer = await me.careful.call("order.get", {"order_id": order.id})  # a lost answer
    if isinstance(answer, WarungError):
        me.refused(answer, InvalidState, Conflict)  # refunded meanwhile by a clerk
        return
    assert answer["status"] == "cancelled", answer
    order.told(answer)


# -- clerks


async def clerk_turn(me: Actor) -> None:
    roll = me.rng.random()
    if roll < 0.35:
        await sale(me)
    elif roll < 0.45:
        await offline_sale(me)
    elif roll < 0.58:
        await restock(me)
    elif roll < 0.71:
        await adjust(me)
    else:
        await refund(me)


async def open_till(me: Actor, opening: int) -> None:
    args = {"station": f"till-{me.name}", "opening_cash": opening}
    register = await me.careful.call("clerk.register.open", args)
    assert not isinstance(register, WarungError), register
    me.ledger.tills[me.name] = Till(register["id"], opening)


async def close_till(me: Actor) -> dict[str, Any]:
    """Close the clerk's till with the cash it should hold (none, when cash refunds took
    more than the drawer had: the server does not stop that, the count then comes short)."""
    till = me.ledger.tills[me.name]
    counted = max(0, till.expected)
    closed = await me.careful.call("clerk.register.close", {"counted_cash": counted})
    assert not isinstance(closed, WarungError), closed
    return closed


async def sale(me: Actor) -> None:
    basket = me.basket(2)
    total = me.total(basket)
    key = me.key()
    payment: dict[str, Any]
    if me.rng.random() < 0.6:
        payment = {"method": "cash", "tendered": total + me.rng.choice([0, 500, 10_000])}
    else:
        payment = {"method": "card", "token": "decline" if me.rng.random() < 0.1 else "tok"}
    lines = [{"product_id": pid, "qty": qty} for pid, qty in basket.items()]
    args = {"idempotency_key": key, "lines": lines, "payment": payment}
    answer = await me.keyed("clerk.sale", args, pays=payment["method"] != "cash")
    sold = _record_sale(me, "pos", key, payment["method"], basket, answer)
    if sold is not None and payment["method"] == "cash":
        assert not isinstance(answer, WarungError)
        assert answer["change_due"] == payment["tendered"] - total, (answer, payment)
        me.ledger.tills[me.name].cash_sales += total


async def offline_sale(me: Actor) -> None:
    """A cash sale the till rang up offline a moment ago, sent now: never refused for
    stock (what the stock lacks becomes a shortfall), counted in the open till."""
    basket = me.basket(4)
    key = me.key()
    receipt = f"{re.sub('[^A-Z0-9]', '', me.name.upper())[:16] or 'TILL'}-{me.keys}"
    args = {
        "idempotency_key": key,
        "lines": [{"product_id": pid, "qty": qty} for pid, qty in basket.items()],
        "payment": {"method": "cash"},
        "offline_at": datetime.now(UTC),
        "receipt": receipt,
    }
    answer = await me.keyed("clerk.sale", args)
    assert not isinstance(answer, WarungError), (args, answer)
    assert answer["receipt"] == receipt, answer
    _record_sale(me, "pos", key, "cash", basket, answer)
    me.ledger.tills[me.name].cash_sales += answer["total"]


def _record_sale(
    me: Actor, channel: str, key: str, method: str, basket: dict[int, int], answer: Answer
) -> Sold | None:
    """The order a checkout or sale was told of, paid or declined; None when none was made."""
    if isinstance(answer, OutOfStock):
        me.refused(answer)
        return None
    if isinstance(answer, WarungError):
        me.refused(answer, PaymentDeclined)
        declined = {
            "id": answer.details["order_id"],
            "status": "cancelled",
            "channel": channel,
            "lines": [{"product_id": pid, "qty": qty} for pid, qty in basket.items()],
            "total": me.total(basket),
        }
        return me.ledger.record_order(me.name, key, method, declined, declined=True)
    assert answer["total"] == me.total(basket), (answer, basket)
    sold = me.ledger.record_order(me.name, key, method, answer)
    assert sold.lines == basket, (sold, basket)
    return sold


async def restock(me: Actor) -> None:
    pid = me.rng.choice(sorted(me.ledger.prices))
    await _move(me, "clerk.restock", pid, "qty", me.rng.randint(1, 6))


async def adjust(me: Actor) -> None:
    pid = me.rng.choice(sorted(me.ledger.prices))
    await _move(me, "clerk.adjust", pid, "delta", me.rng.choice([-3, -2, -1, 1, 2]))


async def _move(me: Actor, op: str, pid: int, name: str, amount: int) -> None:
    key = me.key()
    args = {"product_id": pid, name: amount, "reason": key, "idempotency_key": key}
    answer = await me.keyed(op, args)
    if isinstance(answer, WarungError):
        me.refused(answer)
        return
    assert answer["id"] == pid and answer["stock"] >= 0, answer
    me.ledger.stock_keys[key] = (pid, amount)


async def refund(me: Actor) -> None:
    candidates = me.ledger.refundable()
    if not candidates:
        return
    order = me.rng.choice(candidates)
    key = me.key()
    args: dict[str, Any] = {"order_id": order.id, "reason": key, "idempotency_key": key}
    if me.rng.random() < 0.6:
        line: dict[str, Any] = {"product_id": me.rng.choice(sorted(order.lines))}
        if me.rng.random() < 0.7:
            line["qty"] = 1
        args["lines"] = [line]
    # a card or e-wallet refund asks the provider after its commit: cut there, its key stays
    # `in_progress` for the provider timeout (PROTOCOL.md clerk.refund), as a payment's does
    answer = await me.keyed("clerk.refund", args, pays=order.method != "cash")
    if isinstance(answer, WarungError):
        me.refused(answer, InvalidState, Conflict)  # refunded or cancelled by another first
        return
    order.told(answer)
    told = answer["refund"]
    me.ledger.refunds[key] = {**told, "order_id": order.id}
    till = me.ledger.tills[me.name]
    assert told["register_id"] == till.register_id, (told, till)
    if told["method"] == "cash":
        till.cash_refunds += told["amount"]


Turn = Callable[[Actor], Awaitable[None]]


async def run_actor(me: Actor, turn: Turn, turns: int) -> None:
    for _ in range(turns):
        await turn(me)
