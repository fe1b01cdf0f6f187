"""The flash sale (issue 19, item 3): every customer watches one product of few units, has
one in the cart, and all check out at once. Counts who paid and who was told
`out_of_stock`, the time until every one had an answer, and how long after the last sale
every watcher held a `stock` push saying 0, and the servers' CPU (writers included) from
the first checkout sent to the last answer.

The last sale (the commit that took the last unit) is not seen by a client, but it came
before the first watcher saw 0 and before the last paid answer; so the time from the
earlier of those two to the last watcher seeing 0 (`sold_out_lag_s`) is a lower bound of
"last sale -> every watcher sold out", and the figure held against the target."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from dataclasses import asdict, dataclass
from typing import Any

from bench.clients import Tally, Watcher, in_batches, signed_in
from bench.lean_client import BenchError
from bench.load import PAYMENT
from bench.loops import no_gc_pauses
from bench.proc_cpu import server_cpu_s

ANSWER_TIMEOUT_S = 120.0
SOLD_OUT_TIMEOUT_S = 10.0
TARGET_ANSWERED_S = 2.0
TARGET_SOLD_OUT_S = 0.5


@dataclass
class FlashSale:
    where: str
    customers: int
    units: int
    paid: int
    out_of_stock: int
    other: int  # any other answer, or none
    answered_s: float  # from the first checkout sent to the last answer
    sold_out_after_last_paid_s: float  # last paid answer -> last watcher holding stock 0
    sold_out_spread_s: float  # first watcher holding stock 0 -> last
    watchers_sold_out: int
    server_cpu_s: float  # of every server and its writer, first checkout sent -> last answer

    @property
    def sold_out_lag_s(self) -> float:
        return max(self.sold_out_after_last_paid_s, self.sold_out_spread_s)

    def as_dict(self) -> dict[str, Any]:
        met = {
            "exact": self.paid == self.units and self.out_of_stock == self.customers - self.units,
            "answered_within_2s": self.answered_s <= TARGET_ANSWERED_S,
            "sold_out_within_0_5s": self.sold_out_lag_s <= TARGET_SOLD_OUT_S
            and self.watchers_sold_out == self.customers,
        }
        return {**asdict(self), "sold_out_lag_s": self.sold_out_lag_s, "met": met}


async def customer(ports: list[int], tokens: list[str], product: int, i: int) -> Watcher:
    client = await signed_in(Watcher, ports[i % len(ports)], tokens[i])
    await client.call("stock.subscribe", product_ids=[product])
    await client.call("cart.add", product_id=product)
    return client


def check_out(client: Watcher) -> asyncio.Future[tuple[bool, float]]:
    """Send `order.checkout`; the future holds (paid, when answered)."""
    outcome: asyncio.Future[tuple[bool, float]] = client.expect()

    def settle(ok: bool, body: dict[str, Any]) -> None:
        if not outcome.done():
            outcome.set_result((ok, time.perf_counter()))

    client.on_answer = settle
    client.send("order.checkout", {"idempotency_key": secrets.token_hex(8), "payment": PAYMENT})
    return outcome


def watch_for_zero(client: Watcher, tally: Tally) -> None:
    def seen() -> None:
        if client.pushes[-1][1] == 0:
            client.on_push = None
            tally()

    client.on_push = seen


async def flash_sale(
    where: str, ports: list[int], pids: list[int], tokens: list[str], product: int, units: int
) -> FlashSale:
    """`len(tokens)` customers spread over `ports` (the servers `pids`) buy `product`, which
    has `units` left."""
    clients = await in_batches(lambda i: customer(ports, tokens, product, i), len(tokens))
    try:
        for client in clients:
            client.pushes.clear()
        zero = Tally(len(clients))
        for client in clients:
            watch_for_zero(client, zero)
        with no_gc_pauses():
            cpu_began = _cpu_s(pids)
            began = time.perf_counter()
            outcomes = [check_out(client) for client in clients]
            answers = await asyncio.wait_for(
                asyncio.gather(*outcomes, return_exceptions=True), ANSWER_TIMEOUT_S
            )
            cpu_used = _cpu_s(pids) - cpu_began
            with contextlib.suppress(BenchError):  # reported as watchers_sold_out < customers
                await zero.wait(SOLD_OUT_TIMEOUT_S)
        with_answer = [a for a in answers if isinstance(a, tuple)]
        paid = [when for ok, when in with_answer if ok]
        zeros = [next(t for t, stock in c.pushes if stock == 0) for c in clients if _saw_zero(c)]
        last_paid = max(paid, default=began)
        return FlashSale(
            where=where,
            customers=len(clients),
            units=units,
            paid=len(paid),
            out_of_stock=len(with_answer) - len(paid),
            other=len(answers) - len(with_answer),
            answered_s=max(when for _, when in with_answer) - began if with_answer else -1.0,
            sold_out_after_last_paid_s=max(zeros, default=last_paid) - last_paid,
            sold_out_spread_s=max(zeros, default=0.0) - min(zeros, default=0.0),
            watchers_sold_out=len(zeros),
            server_cpu_s=cpu_used,
        )
    finally:
        for client in clients:
            client.close()


def _cpu_s(pids: list[int]) -> float:
    return sum(server_cpu_s(pid) or 0.0 for pid in pids)


def _saw_zero(client: Watcher) -> bool:
    return any(stock == 0 for _, stock in client.pushes)
