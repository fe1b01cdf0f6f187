"""Which answers are security events: refusals a connection sends, privileged changes made.

Both are decided here from the op's entry in `protocol.ops.REGISTRY` and the answer, so the
connection (for refusals) and the dispatcher (for successes) each need one call, and no
handler records anything itself. Sign-ins, their throttles and account changes are
recorded where they happen (`server.services.auth` and the account services).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from db.audit_entry import target_of
from protocol.envelope import Request
from protocol.errors import ErrorCode, WarungError
from protocol.ops import REGISTRY, Op
from server.security_log import SecurityLog

if TYPE_CHECKING:
    from server.dispatch import Identity

REQUEST_THROTTLES = frozenset({"rate", "in_flight"})  # `rate_limited` reasons of the connection
# Ops closed to customers that change nothing: not privileged changes.
STAFF_READS = frozenset(
    {
        Op.ORDER_SUBSCRIBE,
        Op.ORDER_UNSUBSCRIBE,
        Op.CLERK_REGISTER_GET,
        Op.CLERK_SHORTFALL_LIST,
        Op.ADMIN_REPORT_SALES,
        Op.ADMIN_AUDIT_LIST,
        Op.ADMIN_USER_LIST,
    }
)
# Ops open to customers that are privileged changes when staff make them (to any order).
STAFF_ON_BEHALF = frozenset({Op.ORDER_CANCEL})
REGISTER_OPS = frozenset({Op.CLERK_REGISTER_OPEN, Op.CLERK_REGISTER_CLOSE})
TARGET_ARGS = (
    ("order_id", "order"),
    ("product_id", "product"),
    ("user_id", "user"),
    ("shortfall_id", "shortfall"),
)


def record_refusal(
    security: SecurityLog, op: str, error: WarungError, address: str, who: Identity | None
) -> None:
    """Record the refusal of a request of `op`, if it is one the security log keeps:
    `forbidden`, `unauthenticated` (to an op that needs a sign-in, or a session token
    refused by `auth.resume`) and the connection's own `rate_limited`."""
    user_id, username, role = (
        (None, None, None) if who is None else (who.user_id, who.username, who.role)
    )
    if error.code == ErrorCode.FORBIDDEN:
        security.record("authz.forbidden", address, user_id, username, op=op, role=role)
    elif error.code == ErrorCode.UNAUTHENTICATED and _needs_sign_in(op):
        security.record("authz.unauthenticated", address, user_id, username, op=op)
    elif error.code == ErrorCode.RATE_LIMITED and error.details.get("reason") in REQUEST_THROTTLES:
        known = op if op in REGISTRY else None  # never a client's own string
        reason = error.details["reason"]
        security.record("request.throttled", address, user_id, username, op=known, reason=reason)


def _needs_sign_in(op: str) -> bool:
    spec = REGISTRY.get(op)
    return spec is not None and (bool(spec.roles) or op == Op.AUTH_RESUME)


def privileged(op: str, role: str) -> bool:
    """Whether `op`, done by someone of `role`, is a privileged change."""
    spec = REGISTRY.get(op)
    if spec is None or role == "customer":
        return False
    if op in STAFF_ON_BEHALF:
        return True
    return bool(spec.roles) and "customer" not in spec.roles and op not in STAFF_READS


def change_recorder(
    security: SecurityLog, request: Request, address: str, who: Identity | None
) -> Callable[[Any], Any] | None:
    """What records the success of `request`, made by `who` from `address`, when it is a
    privileged change (who, from where, which op, on what), passing the result on; None
    when it is not one."""
    if who is None or not privileged(request.op, who.role):
        return None

    def record(result: Any) -> Any:
        security.record(
            "privileged.change",
            address,
            who.user_id,
            who.username,
            op=request.op,
            role=who.role,
            target=_target(request.op, request.args, result),
        )
        return result

    return record


def _target(op: str, args: dict[str, Any], result: Any) -> str | None:
    """What the change was made to, from an id argument or the answer; no other argument."""
    for name, kind in TARGET_ARGS:
        if isinstance(args.get(name), int):
            return target_of(kind, args[name])
    if not isinstance(result, dict):
        return None
    order = result.get("order")
    if isinstance(order, dict) and isinstance(order.get("id"), int):
        return target_of("order", order["id"])
    if op in REGISTER_OPS and isinstance(result.get("id"), int):
        return target_of("register", result["id"])
    if op == Op.CLERK_SALE and isinstance(result.get("id"), int):  # the sale is the order
        return target_of("order", result["id"])
    return None
