"""How an order's status and contents read."""

from __future__ import annotations

from typing import Any

from protocol.rules import OrderStatus

STATUS_WORDS = {OrderStatus.PENDING: "paying…"}  # every other status reads as itself
CANCEL_REASONS = {  # a cancelled order's status, by why
    "customer": "cancelled by you",
    "staff": "cancelled by the shop",
    "payment_declined": "cancelled: payment declined",
    "interrupted": "cancelled: interrupted",
}
# the same in a list's status column (12 cells for staff at 80 columns)
SHORT_CANCEL_REASONS = {"payment_declined": "declined", "interrupted": "interrupted"}
PART_REFUNDED = "part refund"
UNPAID_REASONS = {  # cancelled before it was paid for
    "payment_declined": "its payment was declined",
    "interrupted": "its checkout was interrupted",
}
PAYMENT_METHODS = {"card": "Card", "ewallet": "E-wallet", "cash": "Cash"}


def status_text(order: dict[str, Any]) -> str:
    """The status in words, with why an order was cancelled or that a part was refunded."""
    status = order.get("status", "")
    if status == OrderStatus.CANCELLED and order.get("cancel_reason") in CANCEL_REASONS:
        return CANCEL_REASONS[order["cancel_reason"]]
    words = STATUS_WORDS.get(status, status)
    if status != OrderStatus.REFUNDED and some_refunded(order):
        return f"{words}, part refunded"
    return words


def short_status(order: dict[str, Any]) -> str:
    """`status_text` in at most 12 cells, for a list: what sets the order apart stays."""
    status = order.get("status", "")
    if status == OrderStatus.CANCELLED:
        return SHORT_CANCEL_REASONS.get(order.get("cancel_reason") or "", "cancelled")
    if status != OrderStatus.REFUNDED and some_refunded(order):
        return PART_REFUNDED
    return STATUS_WORDS.get(status, status)


def headline(order: dict[str, Any]) -> str:
    """The line above a just-placed order, true to its status as it is now."""
    status = order.get("status", "")
    if status == OrderStatus.PAID:
        return "Thank you! Your order is placed and paid."
    if status == OrderStatus.PENDING:
        return "Your order is placed; its payment is being confirmed."
    if status == OrderStatus.CANCELLED and order.get("cancel_reason") in UNPAID_REASONS:
        why = UNPAID_REASONS[order["cancel_reason"]]
        return f"This order is cancelled: {why}, and nothing was charged."
    if status == OrderStatus.CANCELLED:
        return f"This order is {status_text(order)}; its payment is refunded."
    if status == OrderStatus.REFUNDED:
        return "This order is refunded."
    if status == OrderStatus.SHIPPED:
        return "Thank you! Your order is on its way."
    return "Thank you! Your order is delivered."


def counted(count: int, noun: str) -> str:
    """`count` and `noun`, plural but for one: "1 item", "3 items", "-1 unit"."""
    return f"{count} {noun}{'' if abs(count) == 1 else 's'}"


def item_count(order: dict[str, Any], *, refunds: bool = False) -> str:
    """The units still bought (`2 items`): whoever packs the order sends those; with
    `refunds`, the refunded ones said apart (`1 item, 1 refunded`)."""
    lines = order.get("lines", [])
    refunded = sum(line.get("refunded_qty", 0) for line in lines)
    kept = counted(sum(line.get("qty", 0) for line in lines) - refunded, "item")
    return f"{kept}, {refunded} refunded" if refunds and refunded else kept


def some_refunded(order: dict[str, Any]) -> bool:
    """Whether units of the order were refunded: its event then tells of a refund, not of
    a checkout just paid, even with the status `paid`."""
    return any(line.get("refunded_qty") for line in order.get("lines", []))


def unrefunded_total(order: dict[str, Any]) -> int:
    """What is still paid for (units not yet refunded), in minor units: a cancel refunds it."""
    return sum(
        line["unit_price"] * (line["qty"] - line.get("refunded_qty", 0))
        for line in order.get("lines", [])
    )


def payment_method(order: dict[str, Any]) -> str:
    """How the order was paid: `Card`, `E-wallet`, `Cash` ("" without a payment)."""
    method = (order.get("payment") or {}).get("method", "")
    return PAYMENT_METHODS.get(method, method)


def payment_text(order: dict[str, Any]) -> str:
    """How the order's payment stands, in words ("" without a payment)."""
    method = payment_method(order)
    if not method:
        return ""
    status = (order.get("payment") or {}).get("status", "")
    return {
        "captured": f"Paid by {method}",
        "pending": f"{method} payment being charged",
        "declined": f"{method} payment declined: nothing was charged",
        "refunded": f"Paid by {method}, refunded",
    }.get(status, f"{method} payment {status}".rstrip())


def customer_text(order: dict[str, Any]) -> str:
    """Who the order is for, for staff: the customer's name (PROTOCOL.md 11.5
    `customer_name`), their id from a server that does not send it, or the counter."""
    if order.get("customer_name"):
        return str(order["customer_name"])
    customer = order.get("customer_id")
    return f"customer #{customer}" if customer is not None else "counter"


def units(count: int) -> str:
    return counted(count, "unit")
