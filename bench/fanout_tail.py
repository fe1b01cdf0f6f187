"""Fan-out rounds for `python -m bench`: from a sale sent to each watcher holding its
`stock` push, on warung and on the bare fan-out server (`bench/fanout_server.py`), with
the same lean clients on both sides, so their rounds can be interleaved.

On warung the buyer checks one unit out and cancels it (two pushes per watcher, the stock
stays put); only the first push, the sale's, is timed, and the cancel waits until every
watcher has it: the watchers share this process, and the cancel's pushes arriving for the
first watchers while the last still wait for the sale's would be timed as the server's."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field

from bench.clients import Tally, Watcher, in_batches, opened, signed_in
from bench.lean_client import LeanClient
from bench.load import PAYMENT

PUSH_TIMEOUT_S = 60.0


@dataclass
class Audience:
    """Watchers of product `products[k]`: the first `sizes[k]` of `watchers`."""

    buyer: LeanClient
    watchers: list[Watcher]
    products: dict[int, int]  # audience size -> the product its watchers watch
    warung: bool
    latencies: dict[int, list[float]] = field(default_factory=dict)

    async def round(self, size: int) -> None:
        product = self.products[size]
        audience = self.watchers[:size]
        for watcher in audience:
            watcher.pushes.clear()
        sale = self._tally(size)
        if self.warung:
            await self.buyer.call("cart.add", product_id=product)
            sent = time.perf_counter()
            order = await self.buyer.call(
                "order.checkout", idempotency_key=secrets.token_hex(8), payment=PAYMENT
            )
            await sale.wait(PUSH_TIMEOUT_S)
            cancel = self._tally(size)
            await self.buyer.call("order.cancel", order_id=order["id"])
            await cancel.wait(PUSH_TIMEOUT_S)
        else:
            sent = time.perf_counter()
            await self.buyer.call("sell", product_id=product)
            await sale.wait(PUSH_TIMEOUT_S)
        for watcher in audience:
            watcher.on_push = None
        got = self.latencies.setdefault(size, [])
        got += [watcher.pushes[0][0] - sent for watcher in audience]

    def _tally(self, size: int) -> Tally:
        """A count of the next push of each of the first `size` watchers."""
        tally = Tally(size)
        for watcher in self.watchers[:size]:
            watcher.on_push = tally
        return tally

    def close(self) -> None:
        for client in [self.buyer, *self.watchers]:
            client.close()


async def warung_audience(
    buy_port: int, watch_port: int, tokens: list[str], products: dict[int, int]
) -> Audience:
    """A buyer on `buy_port` (tokens[0]) and max(sizes) watchers on `watch_port`, the first
    `size` of them subscribed to `products[size]` for each size."""

    async def watcher(i: int) -> Watcher:
        client = await signed_in(Watcher, watch_port, tokens[1 + i])
        ids = [p for size, p in products.items() if i < size]
        await client.call("stock.subscribe", product_ids=ids)
        return client

    buyer = await signed_in(LeanClient, buy_port, tokens[0])
    watchers = await in_batches(watcher, max(products))
    return Audience(buyer, watchers, products, warung=True)


async def floor_audience(port: int, products: dict[int, int]) -> Audience:
    async def watcher(i: int) -> Watcher:
        client = await opened(Watcher, port)
        for size, product in products.items():
            if i < size:
                await client.call("subscribe", product_id=product)
        return client

    buyer = await opened(LeanClient, port)
    watchers = await in_batches(watcher, max(products))
    return Audience(buyer, watchers, products, warung=False)
