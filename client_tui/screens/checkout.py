"""Checkout: choose how to pay, pay, and learn plainly what happened.

One idempotency key per purchase: if the link drops while paying, the SDK sends the same
checkout again with it, and pressing Pay again after such a failure reuses it too, so the
purchase is charged once whatever happens. After a definite answer (a decline, not enough
stock) the next attempt is a new purchase with a new key.

The total on the Pay button goes with the checkout, and a retry with the key sends the total
the first press agreed to: a cart that costs another amount by then (a line added in another
window, a price changed) is refused by the server, and nothing is bought until the customer
has seen the new total and pressed Pay again.
"""

from __future__ import annotations

import secrets
from typing import Any, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Input, Label, RadioButton, RadioSet

from client_tui.errors import CALL_ERRORS, describe
from client_tui.hub import hub_of
from client_tui.orderfmt import counted
from client_tui.shop import Shop
from protocol.client import ConnectionLost, State
from protocol.errors import Conflict, InvalidState, OutOfStock, PaymentDeclined

DEFAULT_TOKENS = {"card": "demo-card", "ewallet": "demo-wallet"}
NOT_CONNECTED = (
    "Not connected to the shop right now. Your cart is kept: pay once the top line says "
    "connected again."
)


class CheckoutScreen(ModalScreen[dict[str, Any] | None]):
    AUTO_FOCUS = "#pay"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "back", "Back to cart")]

    def __init__(self, shop: Shop) -> None:
        super().__init__()
        self.shop = shop
        self.idempotency_key = secrets.token_urlsafe(16)
        self.agreed: int | None = None  # the total this key's purchase was pressed for
        self.paying = False
        self._fix: tuple[int, int] | None = None  # (product_id, qty) the Fix button sets
        self._said = ""  # the problem last shown

    def compose(self) -> ComposeResult:
        with Vertical(id="checkout-dialog", classes="dialog") as dialog:
            dialog.border_title = "Check out"
            yield Label("", id="checkout-summary")
            with RadioSet(id="method"):
                yield RadioButton("Card", value=True, id="card")
                yield RadioButton("E-wallet", id="ewallet")
            yield Label("Payment token", id="token-label")
            yield Input(DEFAULT_TOKENS["card"], id="token", compact=True)
            yield Label('The demo provider approves any token but "decline".', id="token-hint")
            yield Label("", id="checkout-problem")
            with Horizontal(classes="buttons"):
                yield Button("Pay", id="pay", variant="primary", compact=True)
                yield Button("Fix cart", id="fix", compact=True)
                yield Button("Back", id="back", compact=True)
        yield Footer()

    def on_mount(self) -> None:
        hub_of(self).cart_changed.subscribe(self, self._show_cart)
        hub_of(self).resynced.subscribe(self, self._back_online)
        self.query_one("#fix", Button).display = False
        self.query_one("#checkout-problem", Label).display = False
        self._show_cart(self.shop.cart)

    def _show_cart(self, cart: dict[str, Any]) -> None:
        count, total = cart.get("count", 0), self.shop.money.format(cart.get("total", 0))
        self.query_one("#checkout-summary", Label).update(
            f"{counted(count, 'item')} · Total {total}"
        )
        pay = self.query_one("#pay", Button)
        pay.label = f"Pay {total}"
        pay.disabled = self.paying or not cart.get("items")

    @property
    def method(self) -> str:
        pressed = self.query_one("#method", RadioSet).pressed_button
        return pressed.id if pressed is not None and pressed.id else "card"

    @on(RadioSet.Changed, "#method")
    def _method_changed(self) -> None:
        token = self.query_one("#token", Input)
        if token.value in DEFAULT_TOKENS.values():
            token.value = DEFAULT_TOKENS[self.method]

    @on(Button.Pressed, "#pay")
    @on(Input.Submitted, "#token")
    def _pay_pressed(self) -> None:
        token = self.query_one("#token", Input).value.strip()
        if not token:
            self._problem("Enter a payment token.")
            return
        if self.shop.client.state != State.CONNECTED:
            self._problem(NOT_CONNECTED)
        elif not self.paying:
            self._pay(self.method, token)

    @work(exclusive=True, group="checkout")
    async def _pay(self, method: str, token: str) -> None:
        self._set_paying(True)
        if self.agreed is None:
            self.agreed = int(self.shop.cart.get("total", 0))
        try:
            order = await self.shop.checkout(method, token, self.idempotency_key, self.agreed)
        except ConnectionLost:
            self._problem(
                "The connection dropped while paying. Press Pay again when it is back: "
                "this purchase is charged at most once."
            )
            return
        except PaymentDeclined as error:
            self._new_purchase()
            self._problem(describe(error))
            return
        except OutOfStock as error:
            self._new_purchase()
            self._out_of_stock(error)
            return
        except Conflict as error:
            if error.details.get("reason") != "total_changed":
                self._problem(describe(error))
                return
            self._new_purchase()
            await self._total_changed()
            return
        except InvalidState as error:
            self._new_purchase()
            self._problem(_refused(error))
            return
        except CALL_ERRORS as error:
            self._problem(describe(error))
            return
        finally:
            self._set_paying(False)
        self.dismiss(order)

    def _back_online(self, _: None) -> None:
        """The link is back: a word that it was down goes."""
        if self._said == NOT_CONNECTED:
            self.query_one("#checkout-problem", Label).display = False

    def _new_purchase(self) -> None:
        self.idempotency_key = secrets.token_urlsafe(16)
        self.agreed = None

    async def _total_changed(self) -> None:
        """The cart changed elsewhere: read it again (the Pay button follows) and say so."""
        try:
            await self.shop.load_cart()
        except CALL_ERRORS as error:
            self._problem(f"Your cart changed elsewhere. {describe(error)}")
            return
        total = self.shop.money.format(self.shop.cart.get("total", 0))
        self._problem(
            f"Your cart changed in another window or a price changed: it now costs {total}. "
            "Nothing was bought. Check it, then pay."
        )

    def _out_of_stock(self, error: OutOfStock) -> None:
        product_id, available = error.details.get("product_id"), error.details.get("available", 0)
        name = self._name_of(product_id)
        if error.details.get("archived"):
            text = (
                f"{name} is no longer sold. Nothing was bought and your cart is kept. "
                "Fix cart removes it."
            )
        elif available:
            text = (
                f"Only {available} of {name} left; your cart asks for "
                f"{error.details.get('requested')}. Nothing was bought and your cart is kept. "
                f"Fix cart sets it to {available}."
            )
        else:
            text = (
                f"{name} sold out. Nothing was bought and your cart is kept. Fix cart removes it."
            )
        self._problem(text)
        if isinstance(product_id, int):
            self._fix = (product_id, available)
            fix = self.query_one("#fix", Button)
            fix.display = True
            self.set_focus(fix)  # Enter fixes the cart; Escape still backs out

    @on(Button.Pressed, "#fix")
    def _fix_pressed(self) -> None:
        if self._fix is not None:
            self._apply_fix(*self._fix)

    @work(exclusive=True, group="checkout")
    async def _apply_fix(self, product_id: int, qty: int) -> None:
        name = self._name_of(product_id)
        try:
            if qty:
                await self.shop.set_qty(product_id, qty)
            else:
                await self.shop.remove(product_id)
        except CALL_ERRORS as error:
            self._problem(describe(error))
            return
        self._fix = None
        self.query_one("#fix", Button).display = False
        self._set_paying(False)  # the Pay button shows the new total
        if not self.shop.cart.get("items"):
            self._problem("Your cart is now empty: there is nothing to pay.")
            return
        done = f"{name} set to {qty}" if qty else f"{name} removed"
        self._problem(f"Cart fixed: {done}. Check the total, then pay.")
        self.set_focus(self.query_one("#pay", Button))

    def _name_of(self, product_id: object) -> str:
        """The name of the cart's line of `product_id`, as the cart has it."""
        line = next((ln for ln in self.shop.cart["items"] if ln["product_id"] == product_id), None)
        return line["name"] if line else f"product {product_id}"

    def _set_paying(self, paying: bool) -> None:
        self.paying = paying
        pay = self.query_one("#pay", Button)
        pay.disabled = paying or not self.shop.cart.get("items")
        if paying:
            pay.label = "Paying…"
            self.query_one("#checkout-problem", Label).display = False
        else:
            pay.label = f"Pay {self.shop.money.format(self.shop.cart.get('total', 0))}"

    def _problem(self, text: str) -> None:
        problem = self.query_one("#checkout-problem", Label)
        problem.update(text)
        problem.display = True
        self._said = text

    @on(Button.Pressed, "#back")
    def action_back(self) -> None:
        if not self.paying:
            self.dismiss(None)


def _refused(error: InvalidState) -> str:
    """What to do about a checkout the cart's state refused."""
    reason = error.details.get("reason")
    if reason == "empty_cart":
        return "Your cart is empty."
    if reason == "checkout_pending":
        return (
            f"Order {error.details.get('order_id')} is being paid for in another window: "
            "wait for it (see Orders), then check out what is left in your cart."
        )
    return describe(error)
