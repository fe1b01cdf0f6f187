"""App-wide signals: how news from the network reaches every view that shows it.

The app turns each network message (stock, order, cart, a resync after a reconnect) into
one publish here; views subscribe when mounted and are dropped when they go away.
"""

from __future__ import annotations

from typing import Any, Protocol, cast

from textual.dom import DOMNode
from textual.signal import Signal

from client_tui.stock import Level


class Hub:
    def __init__(self, owner: DOMNode) -> None:
        self.stock_changed: Signal[dict[int, Level]] = Signal(owner, "stock-changed")
        self.order_changed: Signal[dict[str, Any]] = Signal(owner, "order-changed")
        self.cart_changed: Signal[dict[str, Any]] = Signal(owner, "cart-changed")
        self.resynced: Signal[None] = Signal(owner, "resynced")
        # products changed otherwise than in stock (archived, restored): read them again
        self.product_renewed: Signal[list[int]] = Signal(owner, "product-renewed")


class _HasHub(Protocol):
    hub: Hub


def hub_of(node: DOMNode) -> Hub:
    """The hub of the app `node` runs in."""
    return cast(_HasHub, node.app).hub
