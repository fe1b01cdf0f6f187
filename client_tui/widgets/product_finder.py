"""The product a till's entry names: its SKU, its whole name, or the one search result;
several results are picked from a list; offline, among the products last seen at the till.
The clerk is told, on the till's message line, when there is none (or, offline, several)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from client_tui.shop import Shop

MAX_SKU = 64
Say = Callable[..., None]  # the till's message line: `say(text, problem=True)`
Pick = Callable[[str, list[dict[str, Any]]], Awaitable[dict[str, Any] | None]]


class ProductFinder:
    def __init__(self, shop: Shop, say: Say, pick: Pick) -> None:
        self.shop = shop
        self.say = say
        self.pick = pick  # the list to pick from, for several results; None: backed out

    async def find(self, text: str) -> dict[str, Any] | None:
        """The product `text` names; None when there is none, or the clerk backed out."""
        if not self.shop.online and self.shop.offline is not None:
            return self.find_known(text)
        if len(text) <= MAX_SKU and (product := await self.shop.product_by_sku(text)):
            return product
        items, _ = await self.shop.products(query=text)
        named = [p for p in items if p["name"].casefold() == text.casefold()]
        if len(named) == 1 or len(items) == 1:
            return (named or items)[0]
        if not items:
            self.say(f"No product has the SKU or name {text!r}.", problem=True)
            return None
        return await self.pick(text, items)

    def find_known(self, text: str) -> dict[str, Any] | None:
        """The product last seen at this till with this SKU, or the one whose name has
        `text`."""
        items = self.shop.known_products(text)
        named = [p for p in items if p["name"].casefold() == text.casefold()]
        if len(named) == 1 or len(items) == 1:
            return (named or items)[0]
        if not items:
            self.say(
                f"Offline: no product this till has seen has the SKU or name {text!r}.",
                problem=True,
            )
        else:
            self.say(f"Offline: {len(items)} products fit {text!r}: type the SKU.", problem=True)
        return None
