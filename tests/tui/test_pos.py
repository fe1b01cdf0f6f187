"""The point of sale, by keys, against a real server: the entry line (SKU, 3*SKU, a name
completed or picked), the ticket's keys, and the till that selling needs."""

from __future__ import annotations

import secrets
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Input, Label, OptionList, TabbedContent

from client_tui.screens.find_order import FindOrderScreen
from client_tui.screens.order import OrderScreen
from client_tui.screens.pick import PickProductScreen
from client_tui.screens.quantity import QuantityScreen
from client_tui.screens.refund import RefundScreen
from client_tui.screens.till import TillOpenScreen
from client_tui.stock import stock_text
from tests.e2e.harness import ServerProcess
from tests.tui.pilot import (
    Account,
    customer_with_order,
    label_text,
    make_app,
    product_by_sku,
    shop_of,
    sign_in,
    wait_for,
)
from tests.tui.pos_pilot import Keys, at_the_till, demo_clerk, screen_of, total_digits


@pytest.fixture
def clerk(shop) -> Account:
    """The module shop's clerk, for tests that open no till."""
    return demo_clerk(shop)


async def test_a_clerk_starts_at_the_till_and_an_admin_does_not(shop, clerk):
    app = make_app(shop)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot, *clerk)
        view = await at_the_till(pilot)
        assert app.screen.query_one("#tabs", TabbedContent).active == "pos"
        assert "F8" in label_text(app, "#till-line")
        assert view.ticket.lines == [] and total_digits(app) == "0,00"
    app = make_app(shop)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot, "admin", shop.passwords["admin"])
        assert not app.screen.query("#pos-view")  # clerk.sale is for clerks alone
        assert app.screen.query_one("#tabs", TabbedContent).active == "orders"


async def test_skus_and_quantities_make_the_ticket_and_its_keys_change_it(shop, clerk):
    prices = {sku: product_by_sku(shop, sku)["price"] for sku in ("MIE-0001", "KOP-0002")}
    app = make_app(shop)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot, *clerk)
        view = await at_the_till(pilot)
        keys = Keys(pilot)
        await keys.scan("MIE-0001", lines=1)
        await keys.scan("3*KOP-0002", lines=2)
        await keys.type("2*MIE-0001")  # the same product again: its line grows
        await keys.press("enter")
        await wait_for(pilot, lambda: view.ticket.lines[0].qty == 3, "the line grown to 3")
        assert [(ln.sku, ln.qty) for ln in view.ticket.lines] == [("MIE-0001", 3), ("KOP-0002", 3)]
        total = 3 * prices["MIE-0001"] + 3 * prices["KOP-0002"]
        assert total_digits(app) == shop_of(app).money.format(total, symbol=False)
        assert label_text(app, "#pos-count") == "6 items · Total Rp"
        await pilot.press("tab")  # to the ticket; the cursor is on the line last changed
        assert view.table.has_focus
        await pilot.press("up", "minus", "minus")
        assert view.ticket.lines[0].qty == 1
        await pilot.press("down", "plus")
        assert view.ticket.lines[1].qty == 4
        name = view.ticket.lines[1].name
        assert label_text(app, "#pos-message") == f"4 x {name}"  # what the key did
        await pilot.press("x")
        assert [ln.sku for ln in view.ticket.lines] == ["MIE-0001"]
        assert label_text(app, "#pos-message") == f"Removed {name}."
        assert total_digits(app) == shop_of(app).money.format(prices["MIE-0001"], symbol=False)
        await pilot.press("delete")  # the last line gone: back to the entry line
        assert view.ticket.lines == [] and view.entry.has_focus


async def test_what_the_till_cannot_sell_is_said_and_nothing_is_added(shop, clerk):
    app = make_app(shop)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot, *clerk)
        view = await at_the_till(pilot)
        await pilot.press(*"0*MIE-0001", "enter")
        assert "1 to 1000" in label_text(app, "#pos-message")
        assert view.entry.value == "0*MIE-0001"  # kept, to be corrected
        view.entry.value = "NOPE-0000"
        await pilot.press("end", "enter")
        await wait_for(pilot, lambda: "No product" in label_text(app, "#pos-message"), "refusal")
        assert "'NOPE-0000'" in label_text(app, "#pos-message")
        assert view.ticket.lines == []


async def test_a_name_is_completed_as_it_is_typed(shop, clerk):
    name = product_by_sku(shop, "MIE-0001")["name"]  # "Rasa Sayang Mie Goreng Original 85 g"
    app = make_app(shop)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot, *clerk)
        view = await at_the_till(pilot)
        await pilot.press(*"2*rasa sayang mie goreng ori")  # the case need not match
        entry = view.query_one("#entry", Input)
        await wait_for(pilot, lambda: entry._suggestion, "a completion")
        assert entry._suggestion == f"2*{name}"
        await pilot.press("right", "enter")  # → takes the completion
        await wait_for(pilot, lambda: view.ticket.lines, "the line")
        assert [(ln.name, ln.qty) for ln in view.ticket.lines] == [(name, 2)]


async def test_a_name_that_fits_several_products_is_picked_from_a_list(shop, clerk):
    app = make_app(shop)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot, *clerk)
        view = await at_the_till(pilot)
        await pilot.press(*"mie goreng", "enter")
        picker = await wait_for(
            pilot, lambda: isinstance(app.screen, PickProductScreen) and app.screen, "the list"
        )
        assert picker.query_one(OptionList).option_count > 1
        await pilot.press("escape")  # backs out: nothing added
        await wait_for(pilot, lambda: not isinstance(app.screen, PickProductScreen), "closed")
        assert view.ticket.lines == []
        await pilot.press(*"mie goreng", "enter")
        picker = await wait_for(
            pilot, lambda: isinstance(app.screen, PickProductScreen) and app.screen, "the list"
        )
        second = picker.products[1]
        await pilot.press("down", "enter")
        await wait_for(pilot, lambda: view.ticket.lines, "the picked line")
        assert [ln.product_id for ln in view.ticket.lines] == [second["id"]]


async def coffee_to_pick(pilot: Pilot[Any], clerk: Account) -> PickProductScreen:
    """Signed in as `clerk` at the till, a name that fits the demo's coffees typed: the list."""
    await sign_in(pilot, *clerk)
    await at_the_till(pilot)
    await pilot.press(*"kopi bubuk arabika", "enter")
    return await screen_of(pilot, PickProductScreen)


@pytest.mark.parametrize("size", [(80, 24), (44, 30)])
async def test_the_list_to_pick_from_shows_whole_names_prices_and_stock(
    shop: ServerProcess, clerk: Account, size: tuple[int, int]
) -> None:
    """Two sizes of one coffee differ only at the end of their names: each name is folded
    onto more lines, never cut, and each price and stock reads whole, on a phone too."""
    app = make_app(shop)
    async with app.run_test(size=size) as pilot:
        picker = await coffee_to_pick(pilot, clerk)
        listed = picker.query_one(OptionList)
        lines = [listed.render_line(y).text for y in range(listed.size.height)]
        first = picker.products[:4]  # in view on a phone too
        assert [p["name"][-5:] for p in first[:2]] == ["165 g", "500 g"], "the demo's coffee"
        assert not any("…" in line for line in lines), "a name cut"
        compact, money = size[0] < 60, shop_of(app).money
        for product in first:
            price = money.format(product["price"], whole=compact)
            stock = stock_text(product["stock"], compact)
            assert any(price in line and stock in line for line in lines), product["name"]


async def test_paying_asks_for_an_open_till_first(shop, clerk):
    app = make_app(shop)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot, *clerk)
        await at_the_till(pilot)
        await pilot.press("f5")  # nothing on the ticket: no payment
        assert not isinstance(app.screen, TillOpenScreen)
        await Keys(pilot).scan("MIE-0001", lines=1)
        await pilot.press("f5")
        dialog = await wait_for(
            pilot, lambda: isinstance(app.screen, TillOpenScreen) and app.screen, "the till"
        )
        assert dialog.query_one("#opening-cash", Input).has_focus
        await pilot.press("enter")
        assert "Count the cash" in str(dialog.query_one(".till-problem").render())
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, TillOpenScreen), "backed out")
        assert "open till" in label_text(app, "#pos-message")


async def test_the_list_to_pick_from_is_laid_out_again_when_a_phone_turns(
    shop: ServerProcess, clerk: Account
) -> None:
    app = make_app(shop)
    async with app.run_test(size=(80, 24)) as pilot:
        picker = await coffee_to_pick(pilot, clerk)
        listed = picker.query_one(OptionList)
        await pilot.press("down")
        sku = picker.products[1]["sku"]
        for width, compact in ((44, True), (80, False)):
            await pilot.resize_terminal(width, 24)

            def laid_out(want: bool = compact) -> bool:
                return picker.compact is want

            await wait_for(pilot, laid_out, f"{width} columns")

            def sku_shown(want: bool = not compact) -> bool:
                lines = [listed.render_line(y).text for y in range(listed.size.height)]
                return any(sku in line for line in lines) is want

            await wait_for(pilot, sku_shown, f"the SKU column at {width} columns")
            assert listed.highlighted == 1


async def test_f10_opens_an_order_by_its_number_to_refund_it(
    shop: ServerProcess, clerk: Account
) -> None:
    """A customer back at the counter: the order by its number, its refund a key away."""
    _, _, order = customer_with_order(shop, "MIE-0012")
    app = make_app(shop)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot, *clerk)
        await at_the_till(pilot)
        await pilot.press("f10")
        finding = await screen_of(pilot, FindOrderScreen)
        await pilot.press(*"999999", "enter")  # no such order: said, the dialog stays
        told = "No order has the number 999999: check it on the receipt."
        hint = finding.query_one("#find-hint", Label)
        await wait_for(pilot, lambda: str(hint.content) == told, "the refusal")
        assert app.screen is finding
        field = finding.query_one("#order-number", Input)
        field.value = ""
        await pilot.press(*str(order["id"]), "enter")
        shown = await screen_of(pilot, OrderScreen)
        assert shown.order["id"] == order["id"]
        await pilot.press("f")
        refund = await screen_of(pilot, RefundScreen)
        assert refund.order["id"] == order["id"]
        await pilot.press("escape", "escape")  # the refund, the order
        await wait_for(pilot, lambda: not isinstance(app.screen, OrderScreen), "at the till")
        await pilot.press("ctrl+f")  # where a terminal takes F10 for its menu
        await screen_of(pilot, FindOrderScreen)


async def test_enter_on_a_ticket_line_types_its_quantity(shop: ServerProcess, clerk: Account):
    app = make_app(shop)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot, *clerk)
        view = await at_the_till(pilot)
        await Keys(pilot).scan("50*MIE-0001", lines=1)
        await pilot.press("tab", "enter")  # to the ticket, then the line's quantity
        dialog = await screen_of(pilot, QuantityScreen)
        dialog.query_one("#line-qty", Input).value = "5"
        await pilot.press("enter")
        await wait_for(pilot, lambda: view.ticket.lines[0].qty == 5, "50 made 5")
        assert label_text(app, "#pos-message").startswith("5 x ")
        await pilot.press("enter")
        dialog = await screen_of(pilot, QuantityScreen)
        dialog.query_one("#line-qty", Input).value = "0"  # 0 removes the line
        await pilot.press("enter")
        await wait_for(pilot, lambda: view.ticket.lines == [], "the line removed")


async def test_a_line_stock_cannot_fill_is_said_as_it_is_added(fresh_shop):
    tag = secrets.token_hex(3)
    category = product_by_sku(fresh_shop, "KOP-0001")["category_id"]
    with fresh_shop.client("admin") as admin:
        for sku, stock in ((f"NIL-{tag}", 0), (f"ONE-{tag}", 1)):
            admin.call(
                "admin.product.create",
                sku=sku,
                name=f"Kopi {sku}",
                category_id=category,
                price=12_500,
                stock=stock,
            )
    app = make_app(fresh_shop)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot, *demo_clerk(fresh_shop))
        await at_the_till(pilot)
        keys = Keys(pilot)
        await keys.scan(f"NIL-{tag}", lines=1)
        message = app.screen.query_one("#pos-message", Label)
        assert (
            label_text(app, "#pos-message") == f"Sold out: Kopi NIL-{tag} (Tab, then x removes it)"
        )
        assert message.has_class("problem")
        await keys.scan(f"ONE-{tag}", lines=2)
        assert not message.has_class("problem")  # one there, one on the ticket
        await keys.scan(f"ONE-{tag}", lines=2)
        assert (
            label_text(app, "#pos-message")
            == f"Only 1 left: Kopi ONE-{tag} (Tab, then x removes it)"
        )
        assert message.has_class("problem")
