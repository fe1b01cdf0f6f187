"""The warung app: one connection, the sign-in screen, then the home screen of the role.

Everything the network says arrives as a message (see `bridge`); the handlers here update
the shared state once (stock levels, the cart) and publish to the views through the hub.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from pathlib import PurePath
from typing import Any, ClassVar

from textual import events, work
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.notifications import Notify
from textual.reactive import reactive
from textual.screen import ModalScreen, Screen

from client_tui.bridge import PushBridge
from client_tui.connection import Target
from client_tui.demo import DEMO_USER, DemoError, DemoServer
from client_tui.errors import CALL_ERRORS, LINK_ERRORS, describe, quiet_link, report
from client_tui.field_labels import field_of
from client_tui.hub import Hub
from client_tui.linkstate import NOT_CONNECTED, RetryClock, describe_link
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
from client_tui.offline_queue import DEFAULT_PREFIX, OfflineQueue, owner_of
from client_tui.offline_start import OFFLINE_START, last_known, open_queue
from client_tui.orderfmt import some_refunded
from client_tui.quitting import asked_already, cart_question, ticket_question
from client_tui.screens.confirm import ConfirmScreen
from client_tui.screens.help import HelpScreen
from client_tui.screens.home import HOME_SCREENS, PHONE_BELOW
from client_tui.screens.signin import SignInScreen
from client_tui.screens.starting import StartingScreen
from client_tui.settings import KeptSession, Settings
from client_tui.shop import Shop
from client_tui.stock import renewed
from client_tui.toasts import make_room
from protocol.client import AsyncClient, State
from protocol.errors import Unauthenticated
from protocol.rules import OrderStatus

LINK_TICK_S = 0.5
ENDED_ELSEWHERE = "Your session has ended (signed out elsewhere?): sign in again."
ENDED_NOTICES = {  # by the `reason` of the server's session.ended push (PROTOCOL.md 13)
    "logout_everywhere": "Signed out everywhere: every session of this account has ended.",
    "password_changed": "Your password was changed on another device: sign in with the new one.",
    "revoked": "This session was ended from another device: sign in again.",
    "disabled": "This account is disabled: ask the shop.",
    "role_changed": "An admin changed this account's role: sign in again to work with it.",
    "expired": "Your session has expired: sign in again.",
    "idle": "Your session has expired after a long time unused: sign in again.",
    "session_limit": "This account signed in on too many devices; this one was used least "
    "recently and was signed out: sign in again.",
}


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
        (PHONE_BELOW, "-narrow"),
        (120, "-wide"),
    ]
    NOTIFICATION_TIMEOUT = 4.0  # seconds (Textual: 5)
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("f1", "help", "Help"),  # in the footer where a field takes "?" as typed
        Binding("ctrl+q", "quit", "Quit", priority=True),
        Binding("q", "ask_quit", "Quit", show=False),
        # checked before the home screens' own F-keys, it acts only when a dialog is open
        Binding("f2,f3,f4", "tab_refused", show=False, priority=True),
        Binding("ctrl+r", "retry_now", "Retry now", priority=True),  # shown while reconnecting
    ]

    shop_name: reactive[str] = reactive("warung")
    who: reactive[str] = reactive("not signed in")
    cart_summary: reactive[str] = reactive("")
    link: reactive[tuple[str, str]] = reactive(NOT_CONNECTED)

    def __init__(
        self,
        target: Target,
        *,
        settings: Settings | None = None,
        user: str = "",
        demo: DemoServer | None = None,
        server_fixed: bool = False,
        receipt_prefix: str = DEFAULT_PREFIX,
        sells_offline: bool = True,
    ) -> None:
        """`settings` None: remember nothing (the demo, a browser tab); `demo`: a demo shop
        begun (`DemoServer.begin`): wait for it, then sign in as its customer;
        `server_fixed`: the sign-in form offers no other server (a browser tab of
        `warung web`, whose users must not make the web host connect elsewhere);
        `receipt_prefix`: this station's, on the receipts of the sales it rings up offline;
        `sells_offline` False: no offline queue (a browser tab: every tab of the web host
        would share one data dir, and none has a station's disk of its own)."""
        super().__init__()
        self.target = target
        self.server_fixed = server_fixed
        self.settings = settings
        self.hub = Hub(self)
        self.client: AsyncClient | None = None
        self.bridge: PushBridge | None = None
        self.shop: Shop | None = None
        self._user = user
        self._notice = ""  # said once signed in by itself
        self._demo = demo
        self.receipt_prefix = receipt_prefix
        self.sells_offline = sells_offline
        self._retry_clock = RetryClock()
        self._reconnecting = False
        self._draining = False  # the server said it is restarting: the loss is no news
        self._unreachable = False  # the last link tried failed: the status bar says offline

    def on_notify(self, event: Notify) -> None:
        """Before Textual shows the toast (its own handler runs after this one): the same
        message showing goes, and the oldest when `MAX_TOASTS` are up."""
        make_room(self, event.notification.message)

    def on_key(self, event: events.Key) -> None:
        """Before the bindings (`App._on_key`): a key pressed before a question was put up
        is dropped, whichever screen's widget it was sent to (see `ConfirmScreen`)."""
        screen = self.screen
        if isinstance(screen, ConfirmScreen) and not screen.answered_by(event):
            event.prevent_default()
            event.stop()

    def on_click(self, event: events.Click) -> None:
        if (field := field_of(event.widget)) is not None:
            field.focus()

    def on_mount(self) -> None:
        self.set_interval(LINK_TICK_S, self._show_link)
        kept = self.kept_session(self.target)
        if self._demo is not None:
            self.push_screen(StartingScreen("Starting the demo shop…"))
            self._start_demo(self._demo)
        elif kept is not None:
            self.push_screen(StartingScreen(f"Signing in as {kept.user} (kept session)…"))
            self.resume(kept)
        else:
            self.push_screen(SignInScreen(user=self._user))

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
            self._unreachable = True
            self._show_link()
            raise
        self._unreachable = False
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
        if self.client is None and not self._unreachable:
            self.link = NOT_CONNECTED
        else:
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
        if user.get("role", "") not in HOME_SCREENS:
            self.notify(f"This app has no screens for the role {user.get('role')!r}.")
            return
        if self.settings is not None:
            self.settings.remember(self.target, user["username"])
            if stay:
                self.settings.keep_session(self.target, user["username"], token)
            else:
                self.settings.forget_session()
        offline, off = self._offline_queue(user["role"])
        owner = owner_of(user["username"], self.target.address)
        shop = Shop(
            *(self.client, user, self.post_message),
            offline=offline,
            owner=owner,
            offline_off=off,
            keeps_files=self.sells_offline,
        )
        self._open_home(shop)
        if shop.is_customer:
            self._load_cart()

    def _open_home(self, shop: Shop) -> None:
        """Signed in (or opened offline) as `shop.user`: the home screen of their role."""
        self.shop = shop
        self.shop_name = shop.name
        self.who = f"{shop.user['username']} ({shop.user['role']})"
        self.switch_screen(HOME_SCREENS[shop.user["role"]](shop))

    def unreachable_hint(self) -> str:
        """What a clerk learns when the shop does not answer before they could sign in:
        why this till is not selling offline, and what to do meanwhile."""
        return f" {OFFLINE_START}" if self.sells_offline else ""

    def _offline_queue(self, role: str) -> tuple[OfflineQueue | None, str]:
        return open_queue(self, role, sells_offline=self.sells_offline, prefix=self.receipt_prefix)

    async def _start_offline(self, kept: KeptSession) -> bool:
        """The server does not answer at start: a clerk's till that was signed in here
        before opens on what it last knew, sells for cash offline, and connects (resuming
        the kept session) once the server answers. False when there is nothing to go on."""
        known = last_known(self._offline_queue("clerk")[0], kept)
        if known is None:
            return False
        await self._drop_client()
        self.target = kept.target
        self.client = kept.target.client()
        self.bridge = PushBridge(self.client, self.post_message)
        self._reconnecting = True  # the loss is said below, not as news of a drop
        self.client.connect_later(kept.token)
        self._open_home(known.shop(self.client, self.post_message))
        self.notify(
            f"The shop ({kept.target.address}) does not answer: the till sells for cash "
            "offline and sends the sales once it does.",
            severity="warning",
            timeout=10,
        )
        return True

    # -- signing in by itself (a kept session, the demo)

    @work(exclusive=True, group="start")
    async def _start_demo(self, demo: DemoServer) -> None:
        try:
            shop = await asyncio.to_thread(demo.finish)
        except DemoError as error:
            self.screen_say(f"The demo shop did not start: {error}. Ctrl+Q quits.")
            return
        if shop.owner_pid is not None:
            self._notice = (
                f"Joined the demo shop that another warung window runs (process "
                f"{shop.owner_pid}): quitting that window stops it."
            )
        if shop.password is None:
            self._notice = (
                f"The demo customer's password was not kept ({demo.password_path}). "
                f"To start a fresh demo shop, quit and delete {demo.db_path}."
            )
            self.target = Target(shop.host, shop.port)
            self.switch_screen(SignInScreen(user=DEMO_USER, notice=self._notice))
            return
        self.screen_say("Signing in to the demo shop…")
        await self._log_in(Target(shop.host, shop.port), DEMO_USER, shop.password)

    async def _log_in(self, target: Target, user: str, password: str) -> None:
        try:
            client = await self.connect(target)
            result = await client.login(user, password)
        except CALL_ERRORS as error:
            notice = f"{describe(error, target.address)} Press Sign in to try again."
            self.switch_screen(SignInScreen(user=user, notice=notice))
            return
        self.signed_in(result["user"], result["token"], stay=False)
        if self._notice:
            self.notify(self._notice, timeout=10)

    @work(exclusive=True, group="start")
    async def resume(self, kept: KeptSession) -> None:
        """Sign in with a kept session; if it fails, the sign-in form says why."""
        try:
            client = await self.connect(kept.target)
            result = await client.resume(kept.token)
        except Unauthenticated:
            self.forget_session()
            notice = "Your saved session has ended: sign in again."
            self.switch_screen(SignInScreen(user=kept.user, notice=notice))
            return
        except CALL_ERRORS as error:
            link = isinstance(error, LINK_ERRORS)
            if link and await self._start_offline(kept):
                return
            notice = f"{describe(error, kept.target.address)} Press Sign in to try again."
            if link:
                notice += self.unreachable_hint()
            self.switch_screen(SignInScreen(user=kept.user, notice=notice, kept=kept))
            return
        self.signed_in(result["user"], kept.token, stay=True)

    def screen_say(self, text: str) -> None:
        if isinstance(self.screen, StartingScreen):
            self.screen.say(text)

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

    def on_session_ended(self, message: SessionEnded) -> None:
        self.sign_out(ENDED_NOTICES.get(message.reason, ENDED_ELSEWHERE))

    # -- news from the network

    def on_stock_changed(self, message: StockChanged) -> None:
        if self.shop is not None:
            moved = [] if message.replace else renewed(self.shop.book, message.levels)
            changed = self.shop.book.apply(message.levels, replace=message.replace)
            if changed:
                self.hub.stock_changed.publish(changed)
            if moved:
                self.hub.product_renewed.publish(moved)
                carted = {line["product_id"] for line in self.shop.cart.get("items", [])}
                if self.shop.is_customer and carted.intersection(moved):
                    self._load_cart()  # archived or restored: the line says so

    def on_order_changed(self, message: OrderChanged) -> None:
        self.hub.order_changed.publish(message.order)
        paid = message.order["status"] == OrderStatus.PAID and not some_refunded(message.order)
        if self.shop is not None and self.shop.is_customer and paid:
            self._load_cart()  # a checkout (maybe on another device) emptied those lines

    def on_cart_changed(self, message: CartChanged) -> None:
        if self.shop is not None:
            count, total = message.cart.get("count", 0), message.cart.get("total", 0)
            money = self.shop.money.format(total)
            self.cart_summary = f"Cart {count} · {money}" if count else "Cart empty"
        self.hub.cart_changed.publish(message.cart)

    def on_connection_changed(self, message: ConnectionChanged) -> None:
        if not self.screen_stack:  # the app is closing: its link's last word changes nothing
            return
        self._show_link()
        self.screen.refresh_bindings()  # Ctrl+R shows while reconnecting
        if message.state == State.RECONNECTING:
            if not self._reconnecting and not self._draining:
                self.notify(
                    f"Lost the link to the shop ({self.target.address}). Reconnecting by "
                    "itself: the top line counts down, Ctrl+R tries at once.",
                    severity="warning",
                )
            self._reconnecting = True
        elif message.state == State.CONNECTED and self._reconnecting:
            self._reconnecting = self._draining = False
            self.resync()

    def on_pushes_lost(self, _: PushesLost) -> None:
        self.resync(fresh=True)

    def on_call_refused(self, message: CallRefused) -> None:
        report(self, message.error, message.title)

    def on_server_draining(self, _: ServerDraining) -> None:
        self._draining = True
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
            self.push_screen(HelpScreen.of(self.screen))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "tab_refused":
            return isinstance(self.screen, ModalScreen) and self.shop is not None
        if action == "retry_now":
            return self.client is not None and self.client.state == State.RECONNECTING
        return True

    def action_retry_now(self) -> None:
        if self.client is not None and self.client.retry_now():
            self.notify("Trying to reconnect now…")

    def action_tab_refused(self) -> None:
        self.notify("Close this dialog first (Escape): then F2, F3, F4 switch tabs.")

    async def action_quit(self) -> None:
        """Ctrl+Q: at once, unless a till's ticket holds lines not sold, which quitting
        drops: then after a question naming the ticket."""
        question = ticket_question(self.shop, self.screen_stack)
        if question is None or not asked_already(self.screen):
            self._quit_after(question)

    def action_ask_quit(self) -> None:
        """`q`: quit at once with an empty cart, else after a question (the cart is kept)."""
        self._quit_after(cart_question(self.shop, self.cart_summary))

    def _quit_after(self, question: ConfirmScreen | None) -> None:
        if question is None:
            self.exit()
        else:
            self.push_screen(question, lambda go: self.exit() if go else None)

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
