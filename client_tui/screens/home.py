"""The screens a signed-in user works in, one per role, built from the same views.

Customers: Catalog, Cart, Orders. Staff (clerks and admins): Fulfilment (online orders
to ship, live) and Inventory (the catalog with stock: restock, adjust); a clerk's first tab is
the point of sale. Admins: the staff tabs and the administration tabs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import ClassVar

from textual import work
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Input, TabbedContent, TabPane

from client_tui.screens.account import AccountScreen
from client_tui.screens.find_order import FindOrderScreen
from client_tui.screens.order import OrderScreen
from client_tui.screens.twofactor import TwoFactorScreen
from client_tui.shop import Shop
from client_tui.widgets.audit import AuditView
from client_tui.widgets.badge import TabBadge
from client_tui.widgets.cart import CartView
from client_tui.widgets.catalog import CatalogView
from client_tui.widgets.fulfilment import FulfilmentView
from client_tui.widgets.home_footer import HomeFooter
from client_tui.widgets.inventory import InventoryView
from client_tui.widgets.orders import OrdersView
from client_tui.widgets.people import PeopleView
from client_tui.widgets.pos import PosView
from client_tui.widgets.products_admin import ProductsView
from client_tui.widgets.report import ReportView
from client_tui.widgets.status import StatusBar

COMPACT_FOOTER_BELOW = 100
PHONE_BELOW = 60  # columns: below, the app is `-phone`
SHORT_TITLES = {"pos": "Sale"}  # on a phone, so a clerk's three tabs fit in 40 columns


def catalog(shop: Shop, *, can_buy: bool) -> CatalogView:
    return CatalogView(shop, can_buy=can_buy, id="catalog-view")


class HomeScreen(Screen[None]):
    """Tabs of views under the status bar; F-keys switch tabs from anywhere."""

    TABS: tuple[tuple[str, str, str, Callable[[Shop], Widget]], ...] = ()
    """(pane id, title, key, the view it shows); the first is shown first"""
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+t", "two_factor", "Two-factor sign-in", show=False),
        Binding("ctrl+o", "sign_out", "Sign out"),
    ]

    def __init__(self, shop: Shop) -> None:
        super().__init__()
        self.shop = shop
        self.phone = False
        self.badges: dict[str, str] = {}  # pane id: its view's news

    def compose(self) -> ComposeResult:
        self.phone = self.app.size.width < PHONE_BELOW
        yield StatusBar()
        with TabbedContent(id="tabs", initial=self.TABS[0][0]):
            for pane_id, _, _, view in self.TABS:
                with TabPane(self.tab_label(pane_id), id=pane_id):
                    yield view(self.shop)
        yield HomeFooter()

    def tab_label(self, pane_id: str) -> str:
        """`Fulfilment F4 · 3`: the title (short on a phone), the key, the view's news."""
        title, key = next((title, key) for pane, title, key, _ in self.TABS if pane == pane_id)
        if self.phone:
            title = SHORT_TITLES.get(pane_id, title)
        badge = self.badges.get(pane_id)
        return f"{title} {key.upper()}{f' · {badge}' if badge else ''}"

    def on_resize(self) -> None:
        """Below 100 columns the footer is compact (`HomeFooter`): Help first, keys closer;
        below 60 (a phone) a long tab title is shortened."""
        self.query_one(HomeFooter).compact = self.size.width < COMPACT_FOOTER_BELOW
        if self.phone != (self.size.width < PHONE_BELOW):
            self.phone = not self.phone
            self._relabel()

    def on_tab_badge(self, message: TabBadge) -> None:
        """A view's news, after its tab's title: `Fulfilment F4 · 3`."""
        tabs = self.query_one("#tabs", TabbedContent)
        for pane_id, *_ in self.TABS:
            if tabs.get_pane(pane_id) in message.view.ancestors:
                self.badges[pane_id] = message.text
                tabs.get_tab(pane_id).label = self.tab_label(pane_id)

    def _relabel(self) -> None:
        tabs = self.query_one("#tabs", TabbedContent)
        for pane_id, *_ in self.TABS:
            tabs.get_tab(pane_id).label = self.tab_label(pane_id)

    def action_show_tab(self, pane_id: str) -> None:
        """Show the tab and focus its table at once: the widget focused in the tab left is
        hidden, and Textual would move the focus to a neighbour of it, maybe one in the tab
        shown (a filter, say), which `focus_tab` would then take for the user's choice."""
        self.query_one("#tabs", TabbedContent).active = pane_id
        self.focus_tab()
        self.call_after_refresh(self.focus_tab)

    def on_tabbed_content_tab_activated(self, _: TabbedContent.TabActivated) -> None:
        self.call_after_refresh(self.focus_tab)

    def focus_tab(self) -> None:
        """Put the focus on the table of the tab shown, where the keys act (or on the field
        marked `tab-start`), unless the user is already at work in that tab (typing a
        search, say)."""
        pane = self.query_one("#tabs", TabbedContent).active_pane
        if pane is None or (self.focused is not None and pane in self.focused.ancestors):
            return
        tables = pane.query(".tab-start, DataTable")
        if tables:
            self.set_focus(tables.first())

    def commands(self) -> Iterable[SystemCommand]:
        for pane_id, title, key, _ in self.TABS:
            yield SystemCommand(
                f"Go to {title}",
                f"Show the {title.lower()} ({key.upper()})",
                _bound(self.action_show_tab, pane_id),
            )
        yield SystemCommand("Search products", "Type to search the catalog", self.action_search)
        yield SystemCommand(
            "Two-factor sign-in",
            "Turn on sign-in codes from an authenticator app (Ctrl+T)",
            self.action_two_factor,
        )
        yield SystemCommand(
            "Account",
            "Where you are signed in, sign out everywhere, change your password",
            self.action_account,
        )
        if self.shop.is_staff:
            yield SystemCommand(
                "Open an order",
                "By its number: see it, ship it or refund it (a sale at the till too)",
                self.action_open_order,
            )

    def action_search(self) -> None:
        self.action_show_tab("catalog")
        self.set_focus(self.query_one("#search", Input))

    def action_sign_out(self) -> None:
        self.app.sign_out()  # type: ignore[attr-defined]

    def action_two_factor(self) -> None:
        self.app.push_screen(TwoFactorScreen(self.shop))

    def action_account(self) -> None:
        self.app.push_screen(AccountScreen(self.shop))

    @work(exclusive=True, group="open-order")
    async def action_open_order(self) -> None:
        """Staff: an order by its number, in the order dialog (where `f` refunds it)."""
        order = await self.app.push_screen_wait(FindOrderScreen(self.shop))
        if order is not None:
            await self.app.push_screen_wait(OrderScreen(self.shop, order))


class CustomerScreen(HomeScreen):
    AUTO_FOCUS = "#products"
    TABS = (
        ("catalog", "Catalog", "f2", lambda shop: catalog(shop, can_buy=True)),
        ("cart", "Cart", "f3", lambda shop: CartView(shop, id="cart-view")),
        ("orders", "Orders", "f4", lambda shop: OrdersView(shop, id="orders-view")),
    )
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f2", "show_tab('catalog')", "Catalog", show=False, priority=True),
        Binding("f3", "show_tab('cart')", "Cart", show=False, priority=True),
        Binding("f4", "show_tab('orders')", "Orders", show=False, priority=True),
    ]

    def commands(self) -> Iterable[SystemCommand]:
        yield from super().commands()
        yield SystemCommand("Check out", "Pay for the cart", self.action_checkout)

    def action_checkout(self) -> None:
        self.action_show_tab("cart")
        self.query_one(CartView).action_checkout()


class StaffScreen(HomeScreen):
    AUTO_FOCUS = "#orders-table"
    TABS = (
        ("orders", "Fulfilment", "f4", lambda shop: FulfilmentView(shop, id="orders-view")),
        ("catalog", "Inventory", "f2", lambda shop: InventoryView(shop, id="catalog-view")),
    )
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f2", "show_tab('catalog')", "Inventory", show=False, priority=True),
        Binding("f4", "show_tab('orders')", "Fulfilment", show=False, priority=True),
    ]


class ClerkScreen(HomeScreen):
    """A clerk sells first (`clerk.sale` is theirs alone); the staff tabs follow."""

    AUTO_FOCUS = "#entry"
    TABS = (
        ("pos", "Point of sale", "f3", lambda shop: PosView(shop, id="pos-view")),
        *StaffScreen.TABS,
    )
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f3", "show_tab('pos')", "Point of sale", show=False, priority=True),
        *StaffScreen.BINDINGS,
    ]


class AdminScreen(HomeScreen):
    """An admin keeps the shop: the staff tabs, then one tab per part of administration."""

    AUTO_FOCUS = "#orders-table"
    TABS = (
        *StaffScreen.TABS,
        ("admin-products", "Products", "f5", lambda shop: ProductsView(shop, id="products-view")),
        ("people", "People", "f6", lambda shop: PeopleView(shop, id="people-view")),
        ("report", "Report", "f7", lambda shop: ReportView(shop, id="report-view")),
        ("audit", "Audit", "f8", lambda shop: AuditView(shop, id="audit-view")),
    )
    BINDINGS: ClassVar[list[BindingType]] = [
        *StaffScreen.BINDINGS,
        Binding("f5", "show_tab('admin-products')", "Products", show=False, priority=True),
        Binding("f6", "show_tab('people')", "People", show=False, priority=True),
        Binding("f7", "show_tab('report')", "Report", show=False, priority=True),
        Binding("f8", "show_tab('audit')", "Audit", show=False, priority=True),
    ]


HOME_SCREENS: dict[str, Callable[[Shop], HomeScreen]] = {
    "customer": CustomerScreen,
    "clerk": ClerkScreen,
    "admin": AdminScreen,
}


def _bound(method: Callable[[str], None], argument: str) -> Callable[[], None]:
    return lambda: method(argument)
