"""Rows to wire maps: the one place that shapes products, orders and users for clients."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, overload


@overload
def utc(value: datetime | str) -> datetime: ...
@overload
def utc(value: None) -> None: ...
def utc(value: datetime | str | None) -> datetime | None:
    """A stored timestamp (naive UTC; SQLite returns it as text) as an aware datetime."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC)


PRODUCT_COLUMNS = (
    "id, sku, name, description, category_id, price, currency, stock, version, archived"
)


def product(row: tuple[Any, ...]) -> dict[str, Any]:
    """A row selected with `PRODUCT_COLUMNS` as the product map."""
    return {
        "id": row[0],
        "sku": row[1],
        "name": row[2],
        "description": row[3],
        "category_id": row[4],
        "price": row[5],
        "currency": row[6],
        "stock": row[7],
        "version": row[8],
        "archived": bool(row[9]),
    }


USER_COLUMNS = "id, username, role, disabled, totp_enabled, created_at"


def user(row: tuple[Any, ...]) -> dict[str, Any]:
    return {
        "id": row[0],
        "username": row[1],
        "role": row[2],
        "disabled": bool(row[3]),
        "totp_enabled": bool(row[4]),
        "created_at": utc(row[5]),
    }


def line(product_id: int, sku: str, name: str, qty: int, unit_price: int) -> dict[str, Any]:
    """A cart or order line: what is bought, at what price."""
    return {
        "product_id": product_id,
        "sku": sku,
        "name": name,
        "qty": qty,
        "unit_price": unit_price,
        "line_total": unit_price * qty,
    }
