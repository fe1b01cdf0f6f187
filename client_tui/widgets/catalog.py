"""The catalog: a search box, the category tree and the product table, loaded page by page.

Search runs on the server (`catalog.list` `query`), debounced while typing. Every change of
query or category starts a new listing; an answer to an older listing is dropped, so a
slow reply never overwrites a newer one. The line above the table says what is listed, how
many, and which of them are on screen; Ctrl+G widens a search to every category. After a
reconnect, a listing that failed meanwhile (or a search box changed meanwhile) is loaded
again, so the rows always match the box and the tree.
"""

from __future__ import annotations

from typing import Any, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import DataTable, Input, Label, Tree

from client_tui.actions import add_to_cart
from client_tui.errors import CALL_ERRORS, quiet_link, report
from client_tui.hub import hub_of
from client_tui.listing import scope
from client_tui.screens.product import ProductScreen
from client_tui.shop import PRODUCT_PAGE, Shop
from client_tui.stock import Level
from client_tui.widgets.paged_table import PagedTable
from client_tui.widgets.product_table import ProductTable
from client_tui.widgets.search_box import SearchBox
from protocol.errors import NotFound

SEARCH_DEBOUNCE_S = 0.3
TO_END_PAGE = 200  # End loads the rest in pages this big (the most catalog.list gives)
ALL_PRODUCTS = "All products"


class CatalogView(Vertical):
    WATCH = "catalog"  # the name its rows are watched under (`StockWatch.want`)
    BINDINGS: ClassVar[list[BindingType]] = [
        # priority: handled as the key is read, so what is typed next goes to the box
        Binding("slash", "search", "Search", key_display="/", priority=True),
        Binding("a", "add", "Add to cart"),
        Binding("t", "toggle_categories", "Categories"),
        Binding("ctrl+g", "everywhere", "Search everywhere", show=False),
    ]

    def __init__(self, shop: Shop, *, can_buy: bool, id: str | None = None) -> None:
        super().__init__(id=id)
        self.shop = shop
        self.can_buy = can_buy
        self.query_text = ""
        self.category_id: int | None = None
        self.category_name = ALL_PRODUCTS
        self._cursor: str | None = None
        self._listing = 0  # the listing asked for last
        self._drawn = 0  # the listing the rows on screen belong to
        self._debounce: Timer | None = None
        self.loaded = False  # the first page of the current listing is in

    def compose(self) -> ComposeResult:
        with Horizontal(id="search-bar"):
            yield SearchBox(
                "#products", placeholder="Search name, SKU or description  (/)", id="search"
            )
        yield Label("", id="scope")
        with Horizontal(id="catalog-body"):
            tree: Tree[int | None] = Tree(ALL_PRODUCTS, data=None, id="categories")
            tree.show_root = True
            tree.auto_expand = False  # choosing a category (or all) leaves the tree open
            yield tree
            with Vertical(id="products-pane"):
                yield self.product_table()
                yield Label("", id="products-empty")

    def product_table(self) -> ProductTable:
        """The table the view lists products in (a subclass may show more columns)."""
        return ProductTable(self.shop.money, id="products")

    def on_mount(self) -> None:
        hub_of(self).stock_changed.subscribe(self, self._stock_changed)
        hub_of(self).resynced.subscribe(self, self._resynced)
        hub_of(self).product_renewed.subscribe(self, self._renewed)
        self._load_categories()
        self.reload()

    @property
    def table(self) -> ProductTable:
        return self.query_one("#products", ProductTable)

    # -- listing

    def reload(self) -> None:
        self._listing += 1
        self._cursor = None
        self.loaded = False
        self._show_scope()
        self._load_page(self._listing, first=True)

    @work(exclusive=True, group="catalog-page")
    async def _load_page(self, listing: int, first: bool) -> None:
        table = self.table
        table.more = False
        try:
            items, cursor, total = await self.shop.product_page(
                self.query_text,
                self.category_id,
                None if first else self._cursor,
                TO_END_PAGE if table.to_end else PRODUCT_PAGE,
            )
        except CALL_ERRORS as error:
            report(self, error, "Catalog")
            if listing == self._listing:  # scrolling on (or the resync) tries again
                table.more, self.loaded = self._cursor is not None, True
            return
        if listing != self._listing:
            return
        if first:
            table.clear_products()
            table.total = self.counted(total)
            self._drawn = listing
        stock = {p["id"]: self.shop.book.stock(p["id"], p["stock"]) for p in items}
        table.add_products(self.shown(items, stock), stock)
        self._cursor = cursor
        table.more = cursor is not None
        self.loaded = True
        self._show_empty()
        self._show_scope()
        table.page_added()
        await self._watch_rows()

    def counted(self, total: int | None) -> int | None:
        """How many the listing holds, from the server's count of the search (None where a
        filter of a subclass keeps only some: the count is then of the rows loaded)."""
        return total

    def shown(self, items: list[dict[str, Any]], stock: dict[int, int]) -> list[dict[str, Any]]:
        """The products of a page that get a row (a filter of a subclass picks some)."""
        return items

    async def _watch_rows(self) -> None:
        with quiet_link(self.post_message, "Live stock"):
            await self.shop.watch.want(self.WATCH, self.table.product_ids)

    def _show_empty(self) -> None:
        empty = self.query_one("#products-empty", Label)
        if self.table.row_count:
            empty.display = False
            return
        what = f" matching “{self.query_text}”" if self.query_text.strip() else ""
        empty.update(f"No products{what} in {self.category_name}.")
        empty.display = True

    def _show_scope(self) -> None:
        """The line above the table: what is listed, how many, which are on screen."""
        category = None if self.category_id is None else self.category_name
        where = self.table.position() if self.loaded else ""
        text = scope(where, self.query_text, category, loading=not self.loaded)
        self.query_one("#scope", Label).update(text)

    @on(PagedTable.Viewed, "#products")
    def _viewed(self) -> None:
        if self.loaded:
            self._show_scope()

    @on(PagedTable.NearEnd, "#products")
    def _near_end(self) -> None:
        if self.loaded and self._cursor is not None:
            self.loaded = False
            self._load_page(self._listing, first=False)

    # -- search and categories

    @on(Input.Changed, "#search")
    def _search_changed(self, event: Input.Changed) -> None:
        if self._debounce is not None:
            self._debounce.stop()
        self._debounce = self.set_timer(SEARCH_DEBOUNCE_S, lambda: self._search(event.value))

    @on(Input.Submitted, "#search")
    def _search_submitted(self, event: Input.Submitted) -> None:
        if self._debounce is not None:
            self._debounce.stop()
        self._search(event.value)
        self.focus_now(self.table)

    def _search(self, text: str) -> None:
        if text != self.query_text:
            self.query_text = text
            self.reload()

    @work(exclusive=True, group="catalog-categories")
    async def _load_categories(self) -> None:
        try:
            categories = await self.shop.categories()
        except CALL_ERRORS as error:
            report(self, error, "Categories")
            return
        tree = self.query_one("#categories", Tree)
        tree.clear()
        nodes = {None: tree.root}
        for category in categories:  # depth first: parents come before their children
            parent = nodes.get(category["parent_id"], tree.root)
            nodes[category["id"]] = parent.add(category["name"], data=category["id"])
        for node in nodes.values():
            node.allow_expand = bool(node.children)  # no ▼ before a category with none
        tree.root.expand_all()

    @on(Tree.NodeSelected, "#categories")
    def _category_selected(self, event: Tree.NodeSelected[int | None]) -> None:
        self._choose_category(event.node.data, str(event.node.label))
        if not self.screen.has_class("-wide"):
            self.remove_class("categories-toggled")
        self.focus_now(self.table)

    def _choose_category(self, category_id: int | None, name: str) -> None:
        self.category_id, self.category_name = category_id, name
        self.reload()

    def action_everywhere(self) -> None:
        """Ctrl+G: the same search over every category."""
        if self.category_id is not None:
            tree = self.query_one("#categories", Tree)
            tree.move_cursor(tree.root)
            self._choose_category(None, ALL_PRODUCTS)

    # -- live stock

    def _stock_changed(self, levels: dict[int, Level]) -> None:
        self.table.apply_levels(levels)
        self.screen.refresh_bindings()

    def _renewed(self, product_ids: list[int]) -> None:
        shown = [pid for pid in product_ids if pid in self.table.products]
        if shown:
            self._read_again(shown)

    @work(group="catalog-renewed")
    async def _read_again(self, product_ids: list[int]) -> None:
        """Products changed otherwise than in stock: a customer's row goes when the product
        is no longer for sale (archived: `not_found`); others are shown as read."""
        gone = False
        for product_id in product_ids:
            with quiet_link(self.post_message, "Catalog"):
                try:
                    product = await self.shop.product(product_id)
                except NotFound:
                    self.table.remove_product(product_id)
                    gone = True
                    continue
                self.product_read_again(product)
        if gone:
            self._show_empty()
            self._show_scope()
            await self._watch_rows()

    def product_read_again(self, product: dict[str, Any]) -> None:
        """A listed product as read again (a subclass that shows more of it redraws it)."""

    def _resynced(self, _: None) -> None:
        """Back after a reconnect: load again what failed meanwhile (the rows shown are
        those of an older listing, or the box was changed meanwhile), else redraw stock
        from the book."""
        if not self.query_one("#categories", Tree).root.children:
            self._load_categories()
        typed = self.query_one("#search", Input).value
        if typed != self.query_text or self._drawn != self._listing or not self.table.row_count:
            if self._debounce is not None:
                self._debounce.stop()
            self.query_text = typed
            self.reload()
            return
        self.table.apply_levels(
            {pid: level for pid in self.table.product_ids if (level := self.shop.book.get(pid))}
        )

    # -- actions

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "search":  # a "/" typed into a field is just a character
            return not isinstance(self.app.focused, Input)
        if action == "add":
            if not self.can_buy:
                return False
            return None if self.table.highlighted is None else True  # sold out: says so
        return True

    def action_search(self) -> None:
        self.focus_now(self.query_one("#search", Input))

    def focus_now(self, widget: Widget) -> None:
        """Focus at once, not after the queued events (as `focus()` does): keys typed
        right after `/` or Enter belong to the widget they were typed for."""
        self.screen.set_focus(widget)

    def action_toggle_categories(self) -> None:
        self.toggle_class("categories-toggled")
        self.call_after_refresh(self._focus_after_toggle)

    def _focus_after_toggle(self) -> None:
        tree = self.query_one("#categories", Tree)
        self.focus_now(tree if tree.display else self.table)

    def action_details(self) -> None:
        if (product := self.table.highlighted) is not None:
            self._open_details(product)

    @on(DataTable.RowSelected, "#products")
    def _row_selected(self) -> None:
        self.action_details()

    @on(DataTable.RowHighlighted, "#products")
    def _row_highlighted(self) -> None:
        self.screen.refresh_bindings()

    def _open_details(self, product: dict[str, Any]) -> None:
        self.app.push_screen(ProductScreen(self.shop, product, can_buy=self.can_buy))

    def action_add(self) -> None:
        if (product := self.table.highlighted) is None:
            return
        if product["stock"] <= 0:
            self.notify(f"{product['name']} is sold out: it cannot be added.", severity="warning")
            return
        self._add(product)

    @work(group="cart-change")
    async def _add(self, product: dict[str, Any]) -> None:
        await add_to_cart(self.app, self.shop, product, 1)
