"""The warung app: one connection, the sign-in screen, then the home screen of the role.

Everything the network says arrives as a message (see `bridge`); the handlers here update
the shared state once (stock levels, the cart) and publish to the views through the hub.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import PurePath
from typing import Any, ClassVar

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.notifications import Notify
from textual.reactive import reactive
from textual.screen import Screen

from client_tui.bridge import PushBridge
from client_tui.connection import Target
from client_tui.errors import quiet_link, report
from client_tui.hub import Hub
from client_tui.linkstate import OFFLINE, RetryClock, describe_link
from client_tui.messages import (
    CallRefused,
    CartChanged,
    ConnectionChanged,
    OrderChanged,
    PushesLost,
    ServerDraining,
    SessionEnded,
    StockChanged,
)
from client_tui.screens.help import HelpScreen
from client_tui.screens.home import HOME_SCREENS
from client_tui.screens.signin import SignInScreen
from client_tui.settings import KeptSession, Settings
from client_tui.shop import Shop
from client_tui.toasts import make_room
from protocol.client import AsyncClient, State
from protocol.rules import OrderStatus

LINK_TICK_S = 0.5


class WarungApp(App[None]):
    TITLE = "warung"
    CSS_PATH: ClassVar[list[str | PurePath]] = [
        "styles/app.tcss",
        "styles/dialogs.tcss",
        "styles/views.tcss",
    ]
    # Textual annotates it `ClassVar[...] | None`, which mypy reads as an instance variable.
    # A phone (40 columns), a terminal (60 to 119), a wide one (the category tree shown).
    HORIZONTAL_BREAKPOINTS: ClassVar[list[tuple[int, str]]] = [  # type: ignore[misc]
        (0, "-phone"),
        (60, "-narrow"),
        (120, "-wide"),
    ]
    NOTIFICATION_TIMEOUT = 4.0  # seconds (Textual: 5)
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("f1", "help", "Help", show=False),
    ]

    shop_name: reactive[str] = reactive("warung")
    who: reactive[str] = reactive("not signed in")
    cart_summary: reactive[str] = reactive("")
    link: reactive[tuple[str, str]] = reactive(OFFLINE)

    def __init__(
        self,
        target: Target,
        *,
        settings: Settings | None = None,
        user: str = "",
        password: str | None = None,
        notice: str = "",
    ) -> None:
        """`settings` None: remember nothing (the demo); `password`: sign in at once."""
        super().__init__()
        self.target = target
        self.settings = settings
        self.hub = Hub(self)
        self.client: AsyncClient | None = None
        self.bridge: PushBridge | None = None
        self.shop: Shop | None = None
        kept = self.kept_session(target)
        self._first = SignInScreen(
            user=user or (kept.user if kept else ""), password=password, notice=notice, kept=kept
        )
        self._retry_clock = RetryClock()
        self._reconnecting = False

    def on_notify(self, event: Notify) -> None:
        """Before Textual shows the toast (its own handler runs after this one): the same
        message showing goes, and the oldest when `MAX_TOASTS` are up."""
        make_room(self, event.notification.message)

    def on_mount(self) -> None:
        self.set_interval(LINK_TICK_S, self._show_link)
        self.push_screen(self._first)

    async def on_unmount(self) -> None:
        await self._drop_client()

    # -- the connection

    async def connect(self, target: Target) -> AsyncClient:
        """A connected client for `target`: the current one if it is, else a new one."""
        client = self.client
        if client is not None and target == self.target and client.state == State.CONNECTED:
            return client
        await self._drop_client()
        self.target = target
        self.client = target.client()
        self.bridge = PushBridge(self.client, self.post_message)
        self._show_link()
        try:
            await self.client.connect()
        except BaseException:
            await self._drop_client()
            raise
        return self.client

    async def _drop_client(self) -> None:
        client, bridge = self.client, self.bridge
        self.client = self.bridge = None
        self._reconnecting = False
        if bridge is not None:
            bridge.close()
        if client is not None:
            await client.close()
        self._show_link()

    def _show_link(self) -> None:
        self.link = describe_link(self.client, self._retry_clock)

    # -- signing in and out

    def kept_session(self, target: Target) -> KeptSession | None:
        return self.settings.kept_session(target) if self.settings is not None else None

    def forget_session(self) -> None:
        if self.settings is not None:
            self.settings.forget_session()

    def signed_in(self, user: dict[str, Any], token: str, stay: bool) -> None:
        """The sign-in screen's client is signed in as `user`: open the role's screen."""
        assert self.client is not None
        home = HOME_SCREENS.get(user.get("role", ""))
        if home is None:
            self.notify(f"This app has no screens for the role {user.get('role')!r}.")
            return
        if self.settings is not None:
            self.settings.remember(self.target, user["username"])
            if stay:
                self.settings.keep_session(self.target, user["username"], token)
            else:
                self.settings.forget_session()
        self.shop = Shop(self.client, user, self.post_message)
        self.shop_name = self.shop.name
        self.who = f"{user['username']} ({user['role']})"
        self.switch_screen(home(self.shop))
        if self.shop.is_customer:
            self._load_cart()

    @work(group="session")  # not exclusive: a second call must not cut the first short
    async def sign_out(self, notice: str = "") -> None:
        """Back to the sign-in screen; the session ends on the server too if it still runs."""
        shop, self.shop = self.shop, None
        if shop is None:
            return
        self.forget_session()
        if self.bridge is not None:
            self.bridge.close()
        await shop.sign_out()
        await self._drop_client()
        self.shop_name, self.who, self.cart_summary = "warung", "not signed in", ""
        while len(self.screen_stack) > 2:
            self.pop_screen()
        self.switch_screen(SignInScreen(user=shop.user["username"], notice=notice))

    def on_session_ended(self, _: SessionEnded) -> None:
        self.sign_out("Your session has ended (signed out elsewhere?): sign in again.")

    # -- news from the network

    def on_stock_changed(self, message: StockChanged) -> None:
        if self.shop is not None:
            changed = self.shop.book.apply(message.levels, replace=message.replace)
            if changed:
                self.hub.stock_changed.publish(changed)

    def on_order_changed(self, message: OrderChanged) -> None:
        self.hub.order_changed.publish(message.order)
        paid = message.order["status"] == OrderStatus.PAID
        if self.shop is not None and self.shop.is_customer and paid:
            self._load_cart()  # a checkout (maybe on another device) emptied those lines

    def on_cart_changed(self, message: CartChanged) -> None:
        if self.shop is not None:
            count, total = message.cart.get("count", 0), message.cart.get("total", 0)
            money = self.shop.money.format(total)
            self.cart_summary = f"Cart {count} · {money}" if count else "Cart empty"
        self.hub.cart_changed.publish(message.cart)

    def on_connection_changed(self, message: ConnectionChanged) -> None:
        self._show_link()
        if message.state == State.RECONNECTING:
            self._reconnecting = True
        elif message.state == State.CONNECTED and self._reconnecting:
            self._reconnecting = False
            self.resync()

    def on_pushes_lost(self, _: PushesLost) -> None:
        self.resync(fresh=True)

    def on_call_refused(self, message: CallRefused) -> None:
        report(self, message.error, message.title)

    def on_server_draining(self, _: ServerDraining) -> None:
        self.notify("The shop's server is restarting. Reconnecting…", severity="warning")

    @work(exclusive=True, group="resync")
    async def resync(self, fresh: bool = False) -> None:
        """After a reconnect or lost pushes: catch up on stock, the cart and the orders."""
        shop = self.shop
        if shop is None:
            return
        with quiet_link(self.post_message, "Catching up"):  # still down: the next reconnect tries
            await shop.watch.sync(fresh=fresh)
            if shop.is_customer:
                await shop.load_cart()
            self.hub.resynced.publish(None)

    @work(exclusive=True, group="load-cart")
    async def _load_cart(self) -> None:
        if self.shop is not None:
            with quiet_link(self.post_message, "Cart"):  # else shown as it was until resync
                await self.shop.load_cart()

    # -- keys and commands

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.screen.active_bindings))

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield SystemCommand("Help", "Keys and what each screen is for (?)", self.action_help)
        commands = getattr(screen, "commands", None)
        if callable(commands):
            yield from commands()
        if self.shop is not None:
            yield SystemCommand(
                "Sign out", "End this session and sign in again", lambda: self.sign_out()
            )
        yield from super().get_system_commands(screen)
