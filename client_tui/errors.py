"""Plain words for what went wrong, and what the user can do about it."""

from __future__ import annotations

import contextlib
import errno
import math
import socket
from collections.abc import Callable, Iterator

from textual.dom import DOMNode
from textual.message import Message

from client_tui.messages import CallRefused, SessionEnded
from protocol.client import ConnectionLost
from protocol.errors import ErrorCode, OutOfStock, Unauthenticated, WarungError

# The link failed (dropped, reconnecting, too slow, unreachable): the status bar shows it.
LINK_ERRORS: tuple[type[BaseException], ...] = (ConnectionLost, TimeoutError, OSError)
# What a call can raise: a link error, or the server's refusal.
CALL_ERRORS: tuple[type[BaseException], ...] = (WarungError, *LINK_ERRORS)


@contextlib.contextmanager
def quiet_link(post: Callable[[Message], object], title: str) -> Iterator[None]:
    """Around a call the app makes by itself (a refresh, a subscription), not one the user
    asked for. A link error stays quiet: the status bar shows the link, and the app catches
    up after the reconnect. The server's refusal (`internal` and its reference included) is
    posted as `CallRefused`, which the app reports like any other."""
    try:
        yield
    except LINK_ERRORS:
        pass
    except WarungError as error:
        post(CallRefused(error, title))


def report(node: DOMNode, error: BaseException, title: str) -> None:
    """Tell the user what went wrong. A call refused for want of a sign-in means the session
    has ended (signed out elsewhere, account disabled): the app goes back to signing in."""
    node.app.notify(describe(error), title=title, severity="error")
    end_if_signed_out(node, error)


def end_if_signed_out(node: DOMNode, error: BaseException) -> None:
    """For an error shown in place: `unauthenticated` sends the app back to signing in."""
    if isinstance(error, Unauthenticated):
        node.app.post_message(SessionEnded())


def describe(error: BaseException, address: str = "") -> str:
    """One or two sentences for a notification or an error line; `address` (host:port):
    the server a failed connection was for."""
    if isinstance(error, ConnectionLost):
        return "Not connected to the shop. It reconnects by itself: try again in a moment."
    if isinstance(error, TimeoutError):
        return "The shop took too long to answer. Try again in a moment."
    if isinstance(error, OSError):
        return unreachable(error, address)
    if not isinstance(error, WarungError):
        return str(error)
    code, details = str(error.code), error.details
    if code == ErrorCode.UNAUTHENTICATED and details.get("totp_required"):
        return "Enter the 6-digit code from your authenticator app."
    if code == ErrorCode.UNAUTHENTICATED:
        return f"{_sentence(error.message or 'Not signed in')}"
    if code == ErrorCode.OUT_OF_STOCK:
        available = details.get("available", 0)
        if not available:
            return "That product is sold out. Remove it from your cart to go on."
        return f"Only {available} left. Lower the quantity to {available} or fewer."
    if code == ErrorCode.PAYMENT_DECLINED:
        reason = details.get("reason") or "no reason given"
        return (
            f"Payment declined ({reason}). Nothing was charged and your cart is as it was: "
            "try another card or pay by e-wallet."
        )
    if code == ErrorCode.RATE_LIMITED and details.get("reason") == "declines":
        wait_min = max(1, math.ceil(details.get("retry_after_ms", 60_000) / 60_000))
        return (
            f"Too many declined payments on this account. Try again in {wait_min} min, "
            "or ask the shop."
        )
    if code == ErrorCode.RATE_LIMITED:
        wait_s = max(1, round(details.get("retry_after_ms", 1000) / 1000))
        return f"Too many tries. Wait {wait_s} s and try again."
    if code == ErrorCode.UNAVAILABLE:
        return "The shop cannot serve right now. Try again in a moment."
    if code == ErrorCode.FORBIDDEN:
        return "Your account may not do that."
    if code == ErrorCode.CONFLICT and details.get("field") == "username":
        return "That username is taken: choose another."
    if code == ErrorCode.BAD_REQUEST and details.get("rule") == "wrong password":
        return "Wrong password: type this account's current password."
    if code == ErrorCode.BAD_REQUEST and details.get("field") in ("username", "password"):
        return f"The {details['field']} {details.get('rule', 'is not valid')}."
    if code == ErrorCode.BAD_REQUEST and details.get("field") == "code":
        return (
            f"{_sentence(error.message or 'wrong code')} Type the 6 digits your "
            "authenticator app shows now (they change every 30 s)."
        )
    if code == ErrorCode.INTERNAL:
        return f"The shop had an internal error ({details.get('reference', 'no reference')})."
    return _sentence(error.message or code)


def too_many(error: OutOfStock, in_cart: int) -> str:
    """A cart add or quantity refused for stock, said against the `in_cart` units the cart
    holds already (none: as `describe` says it)."""
    available = error.details.get("available", 0)
    if in_cart <= 0 or not available:
        return describe(error)
    if available == in_cart:
        last = "one" if available == 1 else str(available)
        return f"Your cart holds the last {last} already: there are no more to add."
    if available < in_cart:
        return (
            f"Only {available} left, fewer than the {in_cart} in your cart: lower its "
            "quantity in the cart."
        )
    more = available - in_cart
    return f"Only {available} left and your cart holds {in_cart}: add {more} or fewer."


def unreachable(error: OSError, address: str = "") -> str:
    """Why a connection could not be made, in words, without Python's text."""
    where = address or "the shop's address"
    # Several addresses tried (localhost: ::1 and 127.0.0.1) come as one OSError without
    # an errno, its text listing each refusal.
    if error.errno == errno.ECONNREFUSED or "Connect call failed" in str(error):
        return (
            f"Nothing answers at {where}. Check that the shop's server is running there "
            "and that host and port are right, then try again."
        )
    if isinstance(error, socket.gaierror):
        return f"No computer is known by the host name in {where}: check its spelling."
    reason = f" ({error.strerror.lower()})" if error.strerror else ""
    return f"Cannot reach {where}{reason}. Check the address and the network, then try again."


def _sentence(text: str) -> str:
    text = text[:1].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."
