"""Where an order may go from each status: the one table every status change obeys."""

from protocol.errors import InvalidState
from protocol.rules import OrderStatus

TRANSITIONS: dict[str, frozenset[OrderStatus]] = {
    OrderStatus.PENDING: frozenset(
        {OrderStatus.PAID, OrderStatus.CANCELLED, OrderStatus.COMPLETED}
    ),
    OrderStatus.PAID: frozenset({OrderStatus.SHIPPED, OrderStatus.CANCELLED, OrderStatus.REFUNDED}),
    OrderStatus.SHIPPED: frozenset({OrderStatus.DELIVERED, OrderStatus.REFUNDED}),
    OrderStatus.DELIVERED: frozenset({OrderStatus.REFUNDED}),
    OrderStatus.COMPLETED: frozenset({OrderStatus.REFUNDED}),
    OrderStatus.CANCELLED: frozenset(),
    OrderStatus.REFUNDED: frozenset(),
}


# A pending order ends as its channel's purchases do: paid online, completed at a till.
NOT_FROM_PENDING = {"online": OrderStatus.COMPLETED, "pos": OrderStatus.PAID}


def check_transition(order_id: int, status: str, target: str, channel: str | None = None) -> None:
    """Raise `invalid_state` unless an order in `status` (of `channel`, when known) may
    become `target`."""
    allowed = TRANSITIONS[status]
    if status == OrderStatus.PENDING and channel is not None:
        allowed = allowed - {NOT_FROM_PENDING[channel]}
    if target not in allowed:
        raise InvalidState(
            f"order {order_id} is {status}: it cannot become {target}",
            {"status": status, "allowed": sorted(allowed)},
        )
