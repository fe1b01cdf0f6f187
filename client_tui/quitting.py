"""What quitting would lose, as the question put before it: a till's ticket not sold (Ctrl+Q)
or a customer's cart (`q`, though the server keeps it). None: nothing to lose, quit at once."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from textual.screen import Screen

from client_tui.orderfmt import counted
from client_tui.screens.confirm import ConfirmScreen
from client_tui.screens.pay import PayScreen
from client_tui.shop import Shop
from client_tui.widgets.pos import PosView

QUIT_TITLE = "Quit warung?"


def asked_already(screen: Screen[Any]) -> bool:
    return isinstance(screen, ConfirmScreen) and screen.title_text == QUIT_TITLE


def ticket_question(shop: Shop | None, stack: Sequence[Screen[Any]]) -> ConfirmScreen | None:
    """The question naming a till's ticket with lines not sold, if a screen holds one."""
    views = [view for screen in stack for view in screen.query(PosView)]
    ticket = next((view.ticket for view in views if view.ticket.lines), None)
    if ticket is None or shop is None:
        return None
    selling = any(isinstance(screen, PayScreen) and screen.selling for screen in stack)
    what = (
        "This ticket's sale is being sent, or its last try may have gone through: check "
        "Fulfilment's point-of-sale orders after."
        if ticket.in_doubt is not None or selling
        else "This ticket is not sold: quitting drops it, and nothing is charged."
    )
    amount = f"{counted(ticket.count, 'item')} · {shop.money.format(ticket.total)}"
    return ConfirmScreen(QUIT_TITLE, what, amount, go="Quit")


def cart_question(shop: Shop | None, cart_summary: str) -> ConfirmScreen | None:
    """The question naming a customer's cart that holds something."""
    if shop is None or not shop.cart.get("count", 0):
        return None
    what = "Your cart is kept on the shop's server for your next visit."
    return ConfirmScreen(QUIT_TITLE, what, cart_summary, go="Quit")
