"""Products, for admins: the whole catalog with live stock, archived products included and
marked "archived" in a column of their own; new (`n`), edit (`e`), archive (`x`) and
restore (`u`), the last two after a question naming the product.

A product changed here is redrawn in its row at once; a new one is listed by reloading the
listing, in the server's order.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual import work
from textual.binding import Binding, BindingType

from client_tui.errors import CALL_ERRORS, report
from client_tui.screens.confirm import ConfirmScreen
from client_tui.screens.product_form import ProductFormScreen
from client_tui.shop import Shop
from client_tui.widgets.catalog import CatalogView
from client_tui.widgets.product_table import ProductTable

ARCHIVED = "archived"


def state_cell(product: dict[str, Any]) -> Text:
    """The word says it; the dim style only helps the eye. Right-aligned: on a phone the
    cells have no padding, and the stock's number stands just before it."""
    return Text(ARCHIVED if product["archived"] else "", style="dim italic", justify="right")


class AdminProductTable(ProductTable):
    def add_product_columns(self) -> None:
        super().add_product_columns()
        gap = 1 if self.compact else 0  # the cells' padding is gone on a phone
        state = Text("State", justify="right")
        self.add_column(state, key="state", width=len(ARCHIVED) + gap)

    def cells(self, product: dict[str, Any], name: list[str]) -> list[Text]:
        return [*super().cells(product, name), state_cell(product)]

    def replace_product(self, product: dict[str, Any], stock: int) -> None:
        """Redraw a listed product's row, as the shop returned it (a new name may take
        another number of lines, so the rows are added again, the cursor kept)."""
        if product["id"] not in self.products:
            return
        self.products[product["id"]] = {**product, "stock": stock}
        self.add_rows_again(self.cursor_key())


class ProductsView(CatalogView):
    WATCH = "products"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("n", "new", "New"),
        Binding("e", "edit", "Edit"),
        Binding("x", "archive", "Archive"),
        Binding("u", "restore", "Restore"),
    ]

    def __init__(self, shop: Shop, *, id: str | None = None) -> None:
        super().__init__(shop, can_buy=False, id=id)

    def product_table(self) -> ProductTable:
        return AdminProductTable(self.shop.money, id="products")

    @property
    def products_table(self) -> AdminProductTable:
        return self.query_one("#products", AdminProductTable)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Archive is offered for a product for sale, restore for an archived one."""
        if action not in ("edit", "archive", "restore"):
            return super().check_action(action, parameters)
        product = self.table.highlighted
        if product is None:
            return None if action == "edit" else False
        if action == "archive":
            return not product["archived"]
        if action == "restore":
            return bool(product["archived"])
        return True

    def action_new(self) -> None:
        self._open_form(None)

    def action_edit(self) -> None:
        if (product := self.table.highlighted) is not None:
            self._open_form(product)

    def action_archive(self) -> None:
        if (product := self.table.highlighted) is not None and not product["archived"]:
            self._set_archived(product, True)

    def action_restore(self) -> None:
        if (product := self.table.highlighted) is not None and product["archived"]:
            self._set_archived(product, False)

    @work(group="product-form")
    async def _open_form(self, product: dict[str, Any] | None) -> None:
        saved = await self.app.push_screen_wait(ProductFormScreen(self.shop, product))
        if saved is None:
            return
        if product is None:
            self.reload()
        else:
            self._show(saved)

    @work(exclusive=True, group="product-archive")
    async def _set_archived(self, product: dict[str, Any], archived: bool) -> None:
        if not await self.app.push_screen_wait(archive_question(product, archived)):
            return
        change = self.shop.archive_product if archived else self.shop.restore_product
        try:
            changed = await change(product["id"])
        except CALL_ERRORS as error:
            report(self, error, "Archive" if archived else "Restore")
            return
        self._show(changed)
        what = "archived: hidden from customers" if archived else "restored: for sale again"
        self.app.notify(f"{changed['name']} ({changed['sku']}) {what}.", title="Products")

    def product_read_again(self, product: dict[str, Any]) -> None:
        """Archived or restored elsewhere (another admin): the row says so."""
        self._show(product)

    def _show(self, product: dict[str, Any]) -> None:
        stock = self.shop.book.stock(product["id"], product["stock"])
        self.products_table.replace_product(product, stock)
        self.screen.refresh_bindings()


def archive_question(product: dict[str, Any], archived: bool) -> ConfirmScreen:
    named = f"{product['name']} ({product['sku']})"
    if archived:
        return ConfirmScreen(
            f"Archive {product['name']}?",
            f"{named} is hidden from customers: it leaves the catalog, and carts holding it "
            "cannot check out. Its orders keep it. Restore (u) puts it back.",
            named,
            go="Archive",
        )
    return ConfirmScreen(
        f"Restore {product['name']}?",
        f"{named} is shown to customers again and can be bought.",
        named,
        go="Restore",
    )
