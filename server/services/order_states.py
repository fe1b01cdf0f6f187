"""Where an order may go from each status: the one table every status change obeys."""

from protocol.errors import ErrorCode, WarungError

TRANSITIONS: dict[str, frozenset[str]] = {
    "pending": frozenset({"paid", "cancelled", "completed"}),
    "paid": frozenset({"shipped", "cancelled", "refunded"}),
    "shipped": frozenset({"delivered", "refunded"}),
    "delivered": frozenset({"refunded"}),
    "completed": frozenset({"refunded"}),
    "cancelled": frozenset(),
    "refunded": frozenset(),
}


def check_transition(order_id: int, status: str, target: str) -> None:
    allowed = TRANSITIONS[status]
    if target not in allowed:
        raise WarungError(
            f"order {order_id} is {status}: it cannot become {target}",
            {"status": status, "allowed": sorted(allowed)},
            code=ErrorCode.INVALID_STATE,
        )
