"""Create a product, or edit one, for admins (`admin.product.create`, `.update`).

The server checks every field; what it refuses is shown under the field its error names
(`details.field`: a taken SKU, a price out of bounds), and the form stays open to correct
it. The category is chosen from the shop's list. Editing sends only the fields changed;
the SKU and the stock are not edited here (stock moves by restock and adjust).
"""

from __future__ import annotations

from typing import Any, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Input, Label, Select

from client_tui.errors import CALL_ERRORS, describe, end_if_signed_out
from client_tui.screens.confirm import ConfirmScreen, leave_question
from client_tui.shop import Shop
from protocol.errors import BadRequest, Conflict, NotFound
from protocol.ops import MAX_MONEY

LABELS = {
    "sku": "SKU",
    "name": "Name",
    "description": "Description",
    "category_id": "Category",
    "price": "Price",
    "stock": "Stock",
}


def category_paths(categories: list[dict[str, Any]]) -> list[tuple[str, int]]:
    """Each category as `Parent > Child` with its id, in the shop's order."""
    by_id = {c["id"]: c for c in categories}

    def path(category: dict[str, Any]) -> str:
        parent = by_id.get(category["parent_id"])
        return category["name"] if parent is None else f"{path(parent)} > {category['name']}"

    return [(path(c), c["id"]) for c in categories]


class ProductFormScreen(ModalScreen[dict[str, Any] | None]):
    """`product` None: a new product; else that product, to edit. Dismissed with the
    product as the shop returned it, or None."""

    AUTO_FOCUS = "#form-sku, #form-name"  # the first field: an edit has no SKU field
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "back", "Back")]

    def __init__(self, shop: Shop, product: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.shop = shop
        self.product = product
        self.busy = False
        self.categories: list[tuple[str, int]] = []  # (path, id), once loaded
        self.typed_at_start: list[str] = []  # the fields as they opened

    @property
    def creating(self) -> bool:
        return self.product is None

    def compose(self) -> ComposeResult:
        product = self.product or {}
        money = self.shop.money
        with Vertical(id="form-dialog", classes="dialog") as dialog:
            dialog.border_title = (
                "New product" if self.creating else f"Edit {product['name']} ({product['sku']})"
            )
            if self.creating:
                yield from self._field("sku", Input(max_length=64, id="form-sku", compact=True))
            yield from self._field(
                "name", Input(product.get("name", ""), max_length=200, id="form-name", compact=True)
            )
            yield from self._field(
                "description",
                Input(
                    product.get("description", ""),
                    max_length=4000,
                    id="form-description",
                    compact=True,
                ),
            )
            yield from self._field(
                "category_id",
                Select[int]([], prompt="Choose a category", id="form-category", compact=True),
            )
            yield from self._field(
                "price",
                Input(
                    money.format(product["price"], symbol=False) if product else "",
                    placeholder=f"in {money.currency}, e.g. 12500",
                    id="form-price",
                    compact=True,
                ),
            )
            if self.creating:
                yield from self._field(
                    "stock", Input("0", type="integer", max_length=7, id="form-stock", compact=True)
                )
            yield Label("", id="form-problem", classes="field-problem")
            with Horizontal(classes="buttons"):
                verb = "Create" if self.creating else "Save"
                yield Button(verb, id="form-save", variant="primary", compact=True)
                yield Button("Back", id="form-back", compact=True)
        yield Footer()

    def _field(self, field: str, widget: Input | Select[int]) -> ComposeResult:
        with Horizontal(classes="field-row"):
            yield Label(LABELS[field])
            yield widget
        yield Label("", id=f"{field}-problem", classes="field-problem")

    def on_mount(self) -> None:
        for problem in self.query(".field-problem"):
            problem.display = False
        self.typed_at_start = self._typed()
        self._load_categories()

    def _typed(self) -> list[str]:
        return [field.value for field in self.query(Input)]

    @work(exclusive=True, group="form-categories")
    async def _load_categories(self) -> None:
        try:
            categories = await self.shop.categories()
        except CALL_ERRORS as error:
            self._problem(None, describe(error))
            return
        select = self.query_one("#form-category", Select)
        self.categories = category_paths(categories)
        select.set_options(self.categories)
        if self.product is not None and self.product["category_id"] is not None:
            select.value = self.product["category_id"]

    @on(Button.Pressed, "#form-back")
    @work(exclusive=True, group="form-back")
    async def action_back(self) -> None:
        """Back, asking first when something was typed: it would be lost. Not while it is
        being saved: leaving could not stop that."""
        if self.busy:
            return
        if self._typed() != self.typed_at_start and not await self.app.push_screen_wait(
            leave_question("Leave without saving?")
        ):
            return
        self.dismiss(None)

    @on(Button.Pressed, "#form-save")
    @on(Input.Submitted)
    def _save_pressed(self) -> None:
        if self.busy:
            return
        self._clear_problems()
        try:
            fields = self._fields()
        except FieldProblem as problem:
            self._problem(problem.field, str(problem))
            return
        if not fields:  # an edit that changes nothing: nothing to send or to audit
            self.app.notify("Nothing was changed.", title="Product")
            self.dismiss(None)
            return
        self._save(fields)

    def _fields(self) -> dict[str, Any]:
        """What the form holds, as arguments; raises `FieldProblem` for what cannot be sent."""
        value = self.query_one("#form-category", Select).value
        if not isinstance(value, int):
            raise FieldProblem("category_id", "Choose a category.")
        text = self.query_one("#form-price", Input).value
        try:
            price = self.shop.money.parse(text)
        except ValueError as error:
            raise FieldProblem("price", str(error)) from None
        fields: dict[str, Any] = {
            "name": self.query_one("#form-name", Input).value.strip(),
            "description": self.query_one("#form-description", Input).value.strip(),
            "category_id": value,
            "price": price,
        }
        if self.creating:
            fields["sku"] = self.query_one("#form-sku", Input).value.strip()
            stock = self.query_one("#form-stock", Input).value.strip() or "0"
            if not stock.isdigit():
                raise FieldProblem("stock", "Enter the units on hand, 0 or more.")
            fields["stock"] = int(stock)
            return fields
        assert self.product is not None
        return {name: v for name, v in fields.items() if self.product.get(name) != v}

    @work(exclusive=True, group="form-save")
    async def _save(self, fields: dict[str, Any]) -> None:
        if fields.get("price") == 0 and not await self.app.push_screen_wait(self._free()):
            return
        self.busy = True
        try:
            if self.product is None:
                product = await self.shop.create_product(fields)
            else:
                product = await self.shop.update_product(self.product["id"], fields)
        except CALL_ERRORS as error:
            self._problem(*field_problem(error, self.shop.money.format(MAX_MONEY)))
            end_if_signed_out(self, error)
            return
        finally:
            self.busy = False
        self.app.notify(
            f"{product['name']} ({product['sku']})",
            title="Product created" if self.creating else "Product saved",
        )
        self.dismiss(product)

    def _free(self) -> ConfirmScreen:
        """Asked before a price of 0 is saved: a slip of the keys would give goods away."""
        name = self.query_one("#form-name", Input).value.strip() or "This product"
        return ConfirmScreen(
            "Sell it for nothing?",
            f"{name} will cost {self.shop.money.format(0)}: customers and tills get it free.",
            f"Price {self.shop.money.format(0)}",
            go="Save at 0",
            back="Change the price",
        )

    @on(Input.Changed)
    def _retyped(self, event: Input.Changed) -> None:
        """A field typed again: what was said of it may no longer hold."""
        field = (event.input.id or "").removeprefix("form-")
        if found := self.query(f"#{field}-problem"):
            found.first(Label).display = False

    def _clear_problems(self) -> None:
        for problem in self.query(".field-problem"):
            problem.display = False

    def _problem(self, field: str | None, text: str) -> None:
        """Show `text` under `field`'s input, which takes the focus to be typed again (or
        under the form when it names none shown)."""
        label = self.query_one("#form-problem", Label)
        if field and (found := self.query(f"#{field}-problem")):
            label = found.first(Label)
            self.query_one(f"#form-{field.removesuffix('_id')}").focus()
        label.update(text)
        label.display = True


class FieldProblem(ValueError):
    def __init__(self, field: str, text: str) -> None:
        super().__init__(text)
        self.field = field


def field_problem(error: BaseException, most: str) -> tuple[str | None, str]:
    """The field a refusal names (None: the form as a whole) and what to tell the admin;
    `most` is the highest price, formatted."""
    details = getattr(error, "details", {})
    field = details.get("field")
    if isinstance(error, Conflict) and field == "sku":
        return "sku", "That SKU is taken (archived products keep theirs): choose another."
    if isinstance(error, NotFound) and details.get("kind") == "category":
        return "category_id", "That category is gone: choose another."
    if isinstance(error, BadRequest) and field in LABELS:
        rule = details.get("rule", "is not valid")
        if field == "price":
            return field, f"The price {rule} in minor units: at most {most}."
        return field, f"The {LABELS[field].lower()} {rule}."
    return None, describe(error)
