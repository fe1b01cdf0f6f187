"""Rules that the server, the database tools and every client share.

They are part of the wire contract (PROTOCOL.md states them), so they live in one place.
"""

import re
from enum import StrEnum
from functools import cache
from importlib.resources import files

PROTOCOL_VERSION = 1
SUPPORTED_VERSIONS = (1, 1)
DEFAULT_PORT = 7411
DEFAULT_MAX_FRAME = 1024 * 1024
MIN_CLIENT_MAX_FRAME = 4096
MAX_ID = 2**53

USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{2,31}$")
USERNAME_RULE = (
    "3 to 32 characters: lowercase letters a-z, digits, '_', '.', '-', "
    "starting with a letter or digit"
)
PASSWORD_MIN = 8
PASSWORD_MAX = 128
RECOVERY_CODE_RE = r"[A-Za-z2-7]{4}(-?[A-Za-z2-7]{4}){5}"
RECOVERY_CODE_RULE = "24 characters a-z and 2-7 in groups of 4, '-' between groups optional"
ROLES = ("customer", "clerk", "admin")
STAFF_ROLES = frozenset({"clerk", "admin"})
MAX_QTY = 1000  # units on one cart or order line
MAX_SUBSCRIBE_IDS = 1000  # product ids in one stock.subscribe or stock.unsubscribe
RECEIPT_RE = r"[A-Z0-9]{1,16}-[0-9]{1,12}"
RECEIPT_RULE = "a station prefix of 1 to 16 capital letters or digits, '-', and 1 to 12 digits"
OFFLINE_SKEW_S = 300  # how far ahead of the server's clock a till's offline_at may be
OFFLINE_MAX_AGE_DAYS = 30  # how far behind it


class OrderStatus(StrEnum):
    """An order's status; `server.services.order_states` says which may follow which."""

    PENDING = "pending"
    PAID = "paid"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"
    REFUNDED = "refunded"
    COMPLETED = "completed"


ORDER_STATUSES = tuple(OrderStatus)

# The line `warung-server serve --demo` prints once per demo account it creates; `warung
# --demo` and the tests read the passwords back from it.
DEMO_ACCOUNT_LINE = "demo account {role} / password {password}"
DEMO_ACCOUNT_RE = re.compile(r"demo account (\w+) / password (\S+)")


def username_problem(username: str) -> str | None:
    """Why `username` is not acceptable, or None when it is."""
    if not USERNAME_RE.match(username):
        return f"username must be {USERNAME_RULE}"
    return None


def password_problem(password: str, username: str | None = None) -> str | None:
    """Why `password` is not acceptable for the account `username`, or None when it is.

    Every place that sets a password (sign-up, `warung-server user add`, a password change)
    asks this; give `username` whenever there is one. Case is ignored in the comparisons.
    """
    if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        return f"password must be {PASSWORD_MIN} to {PASSWORD_MAX} characters"
    folded = password.casefold()
    if username is not None and folded == username.casefold():
        return "password must not be the username"
    if folded in common_passwords():
        return "password is one of the most common passwords: choose one that is hard to guess"
    return None


@cache
def common_passwords() -> frozenset[str]:
    """The 3,000 most common passwords (lowercase), from the package's data file."""
    text = files("protocol").joinpath("common_passwords.txt").read_text(encoding="utf-8")
    return frozenset(line for line in text.splitlines() if line and not line.startswith("#"))
