"""The till itself against a real server: opened and closed by keys and by its buttons,
closed with a difference after asking, and found open at another station (at sign-in,
with the server's expected cash at closing, or when opening).

Every test runs on a shop of its own (`fresh_shop`): the demo clerk's register is the
clerk's, on that server, until closed."""

from __future__ import annotations

from textual.widgets import Button, Digits, Input, Label, Static

from client_tui.screens.confirm import ConfirmScreen
from client_tui.screens.find_order import FindOrderScreen
from client_tui.screens.home import HomeScreen
from client_tui.screens.order import OrderScreen
from client_tui.screens.receipt import ReceiptScreen
from client_tui.screens.refund import NO_TILL, RefundScreen
from client_tui.screens.signin import SignInScreen
from client_tui.screens.till import TillCloseScreen, TillOpenScreen
from client_tui.till import TillStatus
from tests.tui.pilot import (
    label_text,
    make_app,
    product_by_sku,
    shop_of,
    sign_in,
    wait_for,
)
from tests.tui.pos_pilot import (
    Keys,
    at_the_till,
    demo_clerk,
    open_till,
    sales_on_server,
    screen_of,
    selling,
    table_text,
)


async def test_closing_the_till_asks_first_then_shows_the_difference(fresh_shop):
    app = make_app(fresh_shop)
    async with app.run_test(size=(80, 24)) as pilot:
        view = await selling(pilot, fresh_shop)
        await Keys(pilot).scan("MIE-0005", 1)
        price = view.ticket.total
        await pilot.press("f5", "enter", "enter")
        await screen_of(pilot, ReceiptScreen)
        await pilot.press("enter")
        expected = 10000000 + price
        money = shop_of(app).money

        await pilot.press("f8")
        dialog = await screen_of(pilot, TillCloseScreen)
        await wait_for(pilot, lambda: dialog.running is not None, "the server's figures")
        await pilot.press(*"99000")  # Rp 99.000 counted
        counted = 9900000
        facts = table_text(dialog.query_one("#till-facts", Static))
        assert money.format(expected) in facts
        assert f"Difference {money.format(expected - counted)} missing" in " ".join(facts.split())
        await pilot.press("enter")
        question = await screen_of(pilot, ConfirmScreen)
        assert str(question.query_one("#confirm-amount", Label).render()) == (
            f"Counted {money.format(counted)} · expected {money.format(expected)}"
        )
        missing = money.format(expected - counted)
        assert f"(difference: {missing} missing)" in str(
            question.query_one("#confirm-what").render()
        )
        await pilot.press("escape")  # backs out: nothing sent, the till stays open
        await wait_for(pilot, lambda: app.screen is dialog, "back at the count")
        assert shop_of(app).till.status == TillStatus.OPEN
        await pilot.press("enter")
        await screen_of(pilot, ConfirmScreen)
        await pilot.press("enter")
        await wait_for(pilot, lambda: dialog.closed is not None, "the till closed")
        closed = dialog.closed
        assert (closed["expected_cash"], closed["counted_cash"]) == (expected, counted)
        assert closed["difference"] == counted - expected < 0
        shown = dialog.query_one("#till-difference", Digits).value
        assert shown == money.format(counted - expected, symbol=False)
        rows = [
            row.split("  ")[0]
            for row in table_text(dialog.query_one("#till-facts", Static)).splitlines()
        ]
        assert rows[:2] == ["Opening cash", "Cash sales"] and rows[-2:] == [
            "Expected cash",
            "Counted cash",
        ], rows
        assert "missing from the drawer" in label_text(app, "#till-difference-label")
        await pilot.press("enter")
        await wait_for(pilot, lambda: view.entry.has_focus, "back at the till")
        assert "Till closed" in label_text(app, "#till-line")
        await Keys(pilot).scan("MIE-0005", 1)
        await pilot.press("f5")  # selling again needs a till opened again
        await screen_of(pilot, TillOpenScreen)


async def test_the_till_dialogs_open_and_close_by_their_buttons(fresh_shop):
    app = make_app(fresh_shop)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot, *demo_clerk(fresh_shop))
        view = await at_the_till(pilot)
        await pilot.press("f8")
        opening = await screen_of(pilot, TillOpenScreen)
        assert str(opening.query_one("#till-go", Button).label) == "Open till"
        await pilot.click("#till-back")
        await wait_for(pilot, lambda: view.entry.has_focus, "back at the till, still closed")
        assert shop_of(app).till.status == TillStatus.CLOSED

        await pilot.press("f8")
        await screen_of(pilot, TillOpenScreen)
        await pilot.press(*"100000")
        await pilot.click("#till-go")
        await wait_for(pilot, lambda: shop_of(app).till.status == TillStatus.OPEN, "the till open")

        await pilot.press("f8")
        closing = await screen_of(pilot, TillCloseScreen)
        await wait_for(pilot, lambda: closing.running is not None, "the server's figures")
        assert not closing.query_one("#till-difference-label").display
        await pilot.press(*"100000")
        await pilot.click("#till-go")
        question = await screen_of(pilot, ConfirmScreen)
        assert "Rp 100.000,00 counted" in str(question.query_one("#confirm-what", Static).render())
        await pilot.press("enter")
        await wait_for(pilot, lambda: closing.closed is not None, "the till closed")
        assert not closing.query_one(".buttons").display
        assert "the drawer balances" in label_text(app, "#till-difference-label")


async def test_a_till_opened_elsewhere_shows_at_once_and_its_close_expects_a_refund_there(
    fresh_shop,
):
    product = product_by_sku(fresh_shop, "MIE-0006")
    with fresh_shop.client("clerk") as other_station:
        other_station.call("clerk.register.open", station="kasir-2", opening_cash=5000000)
        sold = other_station.call(
            "clerk.sale",
            lines=[{"product_id": product["id"], "qty": 2}],
            payment={"method": "cash"},
            idempotency_key="elsewhere-1",
        )
        other_station.call(
            "clerk.refund",
            order_id=sold["id"],
            lines=[{"product_id": product["id"], "qty": 1}],
            reason="returned",
        )
    expected = 5000000 + 2 * product["price"] - product["price"]
    app = make_app(fresh_shop)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot, *demo_clerk(fresh_shop))
        await at_the_till(pilot)
        money = shop_of(app).money
        assert label_text(app, "#till-line") == (
            f"Till kasir-2 open · opened with {money.format(5000000)} · F8 closes it"
        )
        await pilot.press("f8")
        dialog = await screen_of(pilot, TillCloseScreen)
        await wait_for(pilot, lambda: dialog.running is not None, "the server's figures")
        facts = " ".join(table_text(dialog.query_one("#till-facts", Static)).split())
        assert f"Expected cash {money.format(expected)}" in facts
        assert f"Cash sales 1 · {money.format(2 * product['price'])}" in facts, facts
        assert f"Cash refunds 1 · {money.format(-product['price'])}" in facts, facts
        assert "Card refunds" not in facts
        await pilot.press(*"50000", "enter")
        question = await screen_of(pilot, ConfirmScreen)
        assert str(question.query_one("#confirm-amount", Label).render()) == (
            f"Counted {money.format(5000000)} · expected {money.format(expected)}"
        )
        await pilot.press("enter")
        await wait_for(pilot, lambda: dialog.closed is not None, "the till closed")
    assert dialog.closed["station"] == "kasir-2"
    assert dialog.closed["expected_cash"] == expected, "the figure shown was the server's"


async def test_a_till_opened_elsewhere_after_sign_in_is_taken_over_when_opening(fresh_shop):
    app = make_app(fresh_shop)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot, *demo_clerk(fresh_shop))
        await at_the_till(pilot)
        assert shop_of(app).till.status == TillStatus.CLOSED, "none open at sign-in"
        with fresh_shop.client("clerk") as other_station:
            other_station.call("clerk.register.open", station="kasir-2", opening_cash=5000000)
        await open_till(pilot, "100000", station="kasir-1")  # answered: open already
        assert "Till kasir-2 open" in label_text(app, "#till-line"), "read from the server"
        await Keys(pilot).scan("MIE-0006", 1)
        await pilot.press("f5", "enter", "enter")  # sold on the till open already
        await screen_of(pilot, ReceiptScreen)
    [sale] = sales_on_server(fresh_shop)
    assert sale["status"] == "completed"


async def test_cash_typed_as_the_shop_shows_it_opens_and_a_minus_says_why_not(fresh_shop):
    app = make_app(fresh_shop)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot, *demo_clerk(fresh_shop))
        await at_the_till(pilot)
        await pilot.press("f8")
        dialog = await screen_of(pilot, TillOpenScreen)
        await pilot.press(*"-5000", "enter")
        await wait_for(
            pilot, lambda: "less than 0" in label_text(app, ".till-problem"), "the minus refused"
        )
        assert shop_of(app).till.status != TillStatus.OPEN
        dialog.query_one("#opening-cash", Input).value = ""
        await pilot.press(*"Rp 50.000", "enter")  # as the shop writes it, symbol and groups
        await wait_for(pilot, lambda: shop_of(app).till.status == TillStatus.OPEN, "the till open")
    with fresh_shop.client("clerk") as clerk:
        assert clerk.call("clerk.register.get")["opening_cash"] == 5_000_000


async def test_a_clerk_at_the_till_signs_out_and_is_back_at_the_sign_in(fresh_shop):
    app = make_app(fresh_shop)
    async with app.run_test(size=(80, 24)) as pilot:
        await selling(pilot, fresh_shop)
        await pilot.press("ctrl+o")
        await wait_for(pilot, lambda: isinstance(app.screen, SignInScreen), "signed out")
        assert app.shop is None


async def test_a_cash_refund_needs_the_till_open_as_selling_does(fresh_shop):
    product = product_by_sku(fresh_shop, "MIE-0007")
    with fresh_shop.client("clerk") as station:
        station.call("clerk.register.open", station="kasir-1", opening_cash=0)
        sold = station.call(
            "clerk.sale",
            lines=[{"product_id": product["id"], "qty": 1}],
            payment={"method": "cash"},
            idempotency_key="refund-later",
        )
        station.call("clerk.register.close", counted_cash=product["price"])
    app = make_app(fresh_shop)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot, *demo_clerk(fresh_shop))
        await at_the_till(pilot)
        home = app.screen
        assert isinstance(home, HomeScreen)
        home.action_open_order()
        finder = await screen_of(pilot, FindOrderScreen)
        finder.query_one("#order-number", Input).value = str(sold["id"])
        await pilot.press("enter")
        await screen_of(pilot, OrderScreen)
        await pilot.click("#do-refund")
        dialog = await screen_of(pilot, RefundScreen)
        await pilot.click("#refund-all")
        reason = dialog.query_one("#refund-reason", Input)
        reason.value = "bocor"
        reason.focus()
        await pilot.press("enter")
        problem = dialog.query_one("#refund-problem", Label)
        await wait_for(pilot, lambda: problem.display, "the refusal")
        assert str(problem.render()) == NO_TILL
        with fresh_shop.client("clerk") as other_station:  # the till opened elsewhere
            other_station.call("clerk.register.open", station="kasir-2", opening_cash=50_000)
        await pilot.press("enter")  # the reason still has the cursor
        await screen_of(pilot, ConfirmScreen)
        await pilot.press("enter")
        await wait_for(pilot, lambda: not isinstance(app.screen, RefundScreen), "refunded")
    with fresh_shop.client("clerk") as clerk:
        cash = clerk.call("clerk.register.get")["by_method"]["cash"]
    assert (cash["refunds"], cash["refunded"]) == (1, product["price"])
