"""The line at the top of every screen: the shop, the cart, who is signed in, and the
connection."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Label


class StatusBar(Horizontal):
    def compose(self) -> ComposeResult:
        yield Label(id="status-shop")
        yield Label(id="status-cart")
        yield Label(id="status-user")
        yield Label(id="status-link")

    def on_mount(self) -> None:
        self.watch(self.app, "shop_name", self._show_shop)
        self.watch(self.app, "cart_summary", self._show_cart)
        self.watch(self.app, "who", self._show_user)
        self.watch(self.app, "link", self._show_link)

    def _show_shop(self, name: str) -> None:
        self.query_one("#status-shop", Label).update(name)

    def _show_cart(self, summary: str) -> None:
        label = self.query_one("#status-cart", Label)
        label.update(summary)
        label.display = bool(summary)

    def _show_user(self, who: str) -> None:
        self.query_one("#status-user", Label).update(who)

    def _show_link(self, link: tuple[str, str]) -> None:
        state, text = link
        label = self.query_one("#status-link", Label)
        label.update(text)
        label.set_classes(f"link-{state}")
        label.display = bool(text)
