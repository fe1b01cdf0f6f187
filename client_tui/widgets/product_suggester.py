"""Completing the point of sale's entry line: a product name or SKU, with its `3*` kept."""

from __future__ import annotations

import asyncio
import contextlib
import re
from typing import Any

from textual.suggester import Suggester

from client_tui.errors import CALL_ERRORS
from client_tui.shop import Shop

SUGGEST_AFTER_S = 0.15  # the pause in typing after which a completion is looked up
_QTY_PREFIX = re.compile(r"(\s*\d+\s*\*\s*)?(.*)", re.DOTALL)


class ProductSuggester(Suggester):
    """Completes a product name or SKU from the server's search, keeping a `3*` in front.
    Looked up once typing pauses, so a scanner's burst of keys costs no searches."""

    def __init__(self, shop: Shop) -> None:
        super().__init__(use_cache=False, case_sensitive=False)
        self.shop = shop
        self._latest = ""

    async def get_suggestion(self, value: str) -> str | None:
        self._latest = value
        await asyncio.sleep(SUGGEST_AFTER_S)
        match = _QTY_PREFIX.fullmatch(value)
        if value != self._latest or match is None or len(match[2].strip()) < 2:
            return None
        prefix, text = match[1] or "", match[2]
        items: list[dict[str, Any]] = []
        with contextlib.suppress(*CALL_ERRORS):  # a completion is only a hint
            items, _ = await self.shop.products(query=text)
        for product in items:
            for candidate in (product["name"], product["sku"]):
                if candidate.casefold().startswith(text):
                    return prefix + candidate
        return None
