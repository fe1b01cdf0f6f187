"""The rules of an offline sale (`clerk.sale` with `offline_at`, PROTOCOL.md section 12.7)
that the argument table cannot state: cash only, a receipt, `offline_at` within the clock
skew and age allowed, and `unit_price` on no other sale.

A sale the till rang up offline is a fact: after these checks nothing refuses it for stock
(`server.services.stock.sell_offline`).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from protocol.errors import BadRequest
from protocol.rules import OFFLINE_MAX_AGE_DAYS, OFFLINE_SKEW_S

SKEW = timedelta(seconds=OFFLINE_SKEW_S)
MAX_AGE = timedelta(days=OFFLINE_MAX_AGE_DAYS)


def check_offline(args: dict[str, Any], now: datetime) -> str | None:
    """`bad_request` for a sale that breaks the offline rules at `now` (aware UTC); the
    sale's `offline_at` as the naive UTC text a timestamp column holds, None when online."""
    offline_at: datetime | None = args.get("offline_at")
    if offline_at is None:
        _no_unit_prices(args["lines"])
        return None
    if args["payment"]["method"] != "cash":
        raise BadRequest(
            "a sale rung up offline is paid in cash: card and e-wallet need the provider",
            {"field": "payment.method", "rule": "must be cash for an offline sale"},
        )
    if "receipt" not in args:
        raise BadRequest(
            "an offline sale needs its receipt number",
            {"field": "receipt", "rule": "required"},
        )
    if offline_at > now + SKEW:
        raise _bad_offline_at(f"must not be more than {OFFLINE_SKEW_S} s after the server's clock")
    if offline_at < now - MAX_AGE:
        raise _bad_offline_at(
            f"must not be more than {OFFLINE_MAX_AGE_DAYS} days before the server's clock"
        )
    return str(offline_at.astimezone(UTC).replace(tzinfo=None))


def _no_unit_prices(lines: list[dict[str, Any]]) -> None:
    for i, line in enumerate(lines):
        if "unit_price" in line:
            raise BadRequest(
                "a sale made online is charged the current price: give unit_price offline only",
                {"field": f"lines[{i}].unit_price", "rule": "only for an offline sale"},
            )


def _bad_offline_at(rule: str) -> BadRequest:
    return BadRequest(f"argument 'offline_at' {rule}", {"field": "offline_at", "rule": rule})
