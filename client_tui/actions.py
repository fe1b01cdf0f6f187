"""Steps more than one screen takes, written once."""

from __future__ import annotations

from typing import Any

from textual.app import App

from client_tui.errors import CALL_ERRORS, report, too_many
from client_tui.orderfmt import counted
from client_tui.shop import Shop
from protocol.errors import OutOfStock


async def add_to_cart(app: App[Any], shop: Shop, product: dict[str, Any], qty: int) -> bool:
    """Add `qty` units of `product` to the cart and tell the user how it went."""
    try:
        cart = await shop.add(product["id"], qty)
    except OutOfStock as error:  # `requested`: the cart's quantity with these (PROTOCOL.md)
        in_cart = error.details.get("requested", qty) - qty
        app.notify(too_many(error, in_cart), title=product["name"], severity="error")
        return False
    except CALL_ERRORS as error:
        report(app, error, product["name"])
        return False
    count = cart.get("count", 0)
    app.notify(
        f"{qty} x {product['name']}. Cart: {counted(count, 'item')}, "
        f"{shop.money.format(cart['total'])}.",
        title="Added to cart",
    )
    return True
