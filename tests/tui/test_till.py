"""Selling at the till against a real server: a whole cash sale by keys (counted), a card
declined then paid, a lost reply sent again with the sale's key, stock gone at the till,
and the till opened, closed with a difference, or found open already (at sign-in, with the
server's expected cash at closing, or when opening).

Every test that opens a till runs on a shop of its own (`fresh_shop`): the demo clerk's
register is the clerk's, on that server, until closed."""

from __future__ import annotations

from textual import events
from textual.widgets import Button, Digits, Input, Label, Static

from client_tui.screens.confirm import ConfirmScreen
from client_tui.screens.pay import PayScreen
from client_tui.screens.receipt import ReceiptScreen
from client_tui.screens.till import TillCloseScreen, TillOpenScreen
from client_tui.till import TillStatus
from protocol.client import ConnectionLost
from protocol.errors import Unavailable
from tests.tui.pilot import (
    buy,
    label_text,
    make_app,
    product_by_sku,
    refuse,
    shop_of,
    sign_in,
    wait_for,
)
from tests.tui.pos_pilot import (
    Keys,
    at_the_till,
    demo_clerk,
    open_till,
    screen_of,
    table_text,
    total_digits,
)

THREE = ("MIE-0001", "MIE-0002", "KOP-0002")
HOPS = 20  # a key's way from the app to the focused button and back, and the press's: ~10


def sales_on_server(server) -> list[dict]:
    """The point-of-sale orders the server holds, newest first (one page is enough here)."""
    with server.client("clerk") as client:
        orders = client.call("order.list", limit=100)["items"]
    return [order for order in orders if order["channel"] == "pos"]


async def test_a_cash_sale_of_three_items_by_keys(fresh_shop, home):
    prices = {sku: product_by_sku(fresh_shop, sku) for sku in THREE}
    total = sum(product["price"] for product in prices.values())
    app = make_app(fresh_shop)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot, *demo_clerk(fresh_shop))
        view = await at_the_till(pilot)
        await open_till(pilot)  # once a shift, not counted
        keys = Keys(pilot)
        for lines, sku in enumerate(THREE, 1):
            await keys.scan(sku, lines)
        assert total_digits(app) == shop_of(app).money.format(total, symbol=False)
        await keys.press("f5")
        await screen_of(pilot, PayScreen)
        await keys.press(*"50000")  # Rp 50.000 handed over
        hint = label_text(app, "#pay-hint")
        assert hint == f"Change {shop_of(app).money.format(5000000 - total)}"
        await keys.press("enter")
        question = await screen_of(pilot, ConfirmScreen)
        assert str(question.query_one("#confirm-amount", Label).render()) == (
            f"Total {shop_of(app).money.format(total)}"
        )
        await keys.press("enter")
        receipt = await screen_of(pilot, ReceiptScreen)
        change = receipt.query_one("#change-due", Digits).value
        await keys.press("enter")
        await wait_for(pilot, lambda: view.entry.has_focus, "back at the entry line")
        assert keys.counted == 12 <= 15  # 3 Enter, F5, 5 digits, Enter, Enter, Enter
        assert view.ticket.lines == [] and total_digits(app) == "0,00"
        opened_with = f"opened with {shop_of(app).money.format(10000000)}"
        assert opened_with in label_text(app, "#till-line")
    assert change == shop_of(app).money.format(5000000 - total, symbol=False)
    [sale] = sales_on_server(fresh_shop)
    assert sale["status"] == "completed" and sale["payment"]["method"] == "cash"
    assert [(line["sku"], line["qty"]) for line in sale["lines"]] == [(sku, 1) for sku in THREE]
    for sku, before in prices.items():
        assert product_by_sku(fresh_shop, sku)["stock"] == before["stock"] - 1
    saved = home / "data" / "warung" / "receipts" / f"receipt-{sale['id']}.txt"
    assert saved.read_text() == receipt.receipt
    assert f"Receipt {sale['id']}" in receipt.receipt and "Till kasir-1 · clerk" in receipt.receipt


async def test_a_declined_card_sells_nothing_and_cash_then_pays(fresh_shop):
    stock = product_by_sku(fresh_shop, "MIE-0003")["stock"]
    app = make_app(fresh_shop)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot, *demo_clerk(fresh_shop))
        view = await at_the_till(pilot)
        await open_till(pilot)
        await Keys(pilot).scan("2*MIE-0003", 1)
        key = view.ticket.idempotency_key
        await pilot.press("f6")
        dialog = await screen_of(pilot, PayScreen)
        hint = dialog.query_one("#pay-hint", Label)
        await wait_for(pilot, lambda: hint.region.height > 1, "the hint on two lines")
        room = dialog.query_one("#pay-dialog").content_region
        assert hint.region.right <= room.right, "the hint wraps inside the dialog, not cut"
        dialog.query_one("#token", Input).value = "decline"
        await pilot.press("enter")
        question = await screen_of(pilot, ConfirmScreen)
        assert str(question.query_one("#confirm-amount", Label).render()).startswith("Charge Rp")
        await pilot.press("escape")  # backs out: nothing is sent
        await wait_for(pilot, lambda: app.screen is dialog, "back at paying")
        assert await shop_of(app).client.call("order.list", limit=10) == {
            "items": [],
            "next_cursor": None,
        }
        await pilot.press("enter")
        await screen_of(pilot, ConfirmScreen)
        await pilot.press("enter")
        problem = dialog.query_one("#pay-problem", Label)
        await wait_for(pilot, lambda: problem.display, "the decline")
        assert "Payment declined" in str(problem.render())
        assert "Nothing was charged and the ticket is kept" in str(problem.render())
        assert view.ticket.idempotency_key != key  # a definite answer: the next try is new
        assert product_by_sku(fresh_shop, "MIE-0003")["stock"] == stock
        await pilot.press("escape", "f5", "enter", "enter")  # cash, the exact amount
        await screen_of(pilot, ReceiptScreen)
    [sale] = [s for s in sales_on_server(fresh_shop) if s["status"] == "completed"]
    assert sale["payment"]["method"] == "cash" and sale["lines"][0]["qty"] == 2
    assert product_by_sku(fresh_shop, "MIE-0003")["stock"] == stock - 2


async def test_a_sale_whose_reply_is_lost_is_sent_again_with_its_key_and_charged_once(
    fresh_shop, monkeypatch
):
    stock = product_by_sku(fresh_shop, "MIE-0004")["stock"]
    app = make_app(fresh_shop)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot, *demo_clerk(fresh_shop))
        view = await at_the_till(pilot)
        await open_till(pilot)
        await Keys(pilot).scan("MIE-0004", 1)
        key = view.ticket.idempotency_key
        sent: list[str] = []
        client = shop_of(app).client
        call = client.call

        async def reply_lost(op, args=None, /, **kw):
            answer = await call(op, args, **kw)
            if op == "clerk.sale":  # the server sold; its answer never arrives
                sent.append(kw["idempotency_key"])
                if len(sent) <= 5:
                    raise ConnectionLost(op, kw["idempotency_key"])
            return answer

        monkeypatch.setattr(client, "call", reply_lost)
        await pilot.press("f7", "enter", "enter")
        dialog = await screen_of(pilot, PayScreen)
        problem = dialog.query_one("#pay-problem", Label)
        await wait_for(pilot, lambda: problem.display, "the lost link said")
        assert "charged at most once" in str(problem.render())
        assert len(sent) == 5  # the shop tried again by itself, then told the clerk
        await pilot.press("enter", "enter")  # again, as the dialog says
        await screen_of(pilot, ReceiptScreen)
    assert sent == [key] * 6
    [sale] = sales_on_server(fresh_shop)
    assert sale["payment"]["method"] == "ewallet" and sale["status"] == "completed"
    assert product_by_sku(fresh_shop, "MIE-0004")["stock"] == stock - 1


async def doubtful_card_sale(pilot, app, sku: str) -> tuple[PayScreen, list[str]]:
    """A card sale of `sku` the shop answers `unavailable` (it may have gone through);
    the dialog has said so. Returns it and the keys `clerk.sale` was sent with since."""
    await Keys(pilot).scan(sku, 1)
    call = app.client.call
    refuse(app.client, "clerk.sale", Unavailable("The payment provider did not answer."))
    await pilot.press("f6", "enter", "enter")
    dialog = await screen_of(pilot, PayScreen)
    problem = dialog.query_one("#pay-problem", Label)
    await wait_for(pilot, lambda: problem.display, "the unknown answer said")
    sent: list[str] = []

    async def recorded(op, args=None, /, **kw):
        if op == "clerk.sale":
            sent.append(kw["idempotency_key"])
        return await call(op, args, **kw)

    app.client.call = recorded
    return dialog, sent


async def test_a_sale_in_doubt_locks_the_ticket_and_is_sent_again_with_its_key(fresh_shop):
    app = make_app(fresh_shop)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot, *demo_clerk(fresh_shop))
        view = await at_the_till(pilot)
        await open_till(pilot)
        key = view.ticket.idempotency_key
        dialog, sent = await doubtful_card_sale(pilot, app, "MIE-0004")
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is not dialog, "back at the ticket")
        await pilot.press("tab", "plus", "x")
        await Keys(pilot).type("MIE-0001")
        await pilot.press("enter")
        await wait_for(
            pilot, lambda: "may have gone through" in label_text(app, "#pos-message"), "refused"
        )
        assert [(ln.sku, ln.qty) for ln in view.ticket.lines] == [("MIE-0004", 1)]
        await pilot.press("f5")  # another method: the dialog stays with the card
        again = await screen_of(pilot, PayScreen)
        assert again.method == "card"
        await pilot.press("enter", "enter")
        await screen_of(pilot, ReceiptScreen)
    assert sent == [key]
    [sale] = sales_on_server(fresh_shop)
    assert sale["payment"]["method"] == "card" and sale["status"] == "completed"


async def test_abandoning_a_sale_in_doubt_asks_first_then_the_next_is_a_new_sale(fresh_shop):
    app = make_app(fresh_shop)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot, *demo_clerk(fresh_shop))
        view = await at_the_till(pilot)
        await open_till(pilot)
        key = view.ticket.idempotency_key
        dialog, sent = await doubtful_card_sale(pilot, app, "MIE-0004")
        await pilot.press("a")
        await screen_of(pilot, ConfirmScreen)
        await pilot.press("escape")  # backs out: still the same sale
        await wait_for(pilot, lambda: app.screen is dialog, "back at paying")
        assert view.ticket.idempotency_key == key
        await pilot.press("a")
        await screen_of(pilot, ConfirmScreen)
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen is dialog, "back at paying")
        assert view.ticket.idempotency_key != key
        await pilot.press("escape", "tab", "plus")  # the ticket can change again
        await wait_for(pilot, lambda: view.ticket.lines[0].qty == 2, "two now")
        await pilot.press("f5", "enter", "enter")
        await screen_of(pilot, ReceiptScreen)
    assert len(sent) == 1 and sent[0] != key
    [sale] = sales_on_server(fresh_shop)
    assert sale["payment"]["method"] == "cash" and sale["lines"][0]["qty"] == 2


async def test_stock_gone_at_the_till_sells_nothing_and_keeps_the_ticket(fresh_shop):
    app = make_app(fresh_shop)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot, *demo_clerk(fresh_shop))
        view = await at_the_till(pilot)
        await open_till(pilot)
        await Keys(pilot).scan("2*KOP-0010", 1)  # 2 in stock
        buy(fresh_shop, "KOP-0010", 1)  # a customer online takes one
        await wait_for(pilot, lambda: "only 1 left" in str(view.table.get_row_at(0)[-1]), "note")
        await pilot.press("f5")  # said at once, on the line to change: no dialog, no question
        said = await wait_for(pilot, lambda: label_text(app, "#pos-message"), "what to do")
        assert said == "Only 1 left: - lowers this line, x removes it.", said
        assert view.table.has_focus and not isinstance(app.screen, PayScreen)
        await pilot.press("minus")
        await wait_for(pilot, lambda: view.ticket.lines[0].qty == 1, "lowered to 1")
        await pilot.press("f5", "enter")
        await screen_of(pilot, ConfirmScreen)
        buy(fresh_shop, "KOP-0010", 1)  # the last one goes while the clerk is asked
        await pilot.press("enter")
        dialog = await screen_of(pilot, PayScreen)
        problem = dialog.query_one("#pay-problem", Label)
        await wait_for(pilot, lambda: problem.display, "the shop's refusal")
        refusal = str(problem.render())
        assert refusal.startswith("Nothing was sold: ") and "is sold out" in refusal, refusal
        assert [(ln.sku, ln.qty) for ln in view.ticket.lines] == [("KOP-0010", 1)]
    assert sales_on_server(fresh_shop) == []


async def test_a_line_short_only_as_last_heard_is_asked_of_the_shop_and_sold(fresh_shop):
    app = make_app(fresh_shop)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot, *demo_clerk(fresh_shop))
        view = await at_the_till(pilot)
        await open_till(pilot)
        await Keys(pilot).scan("2*KOP-0011", 1)
        product_id = view.ticket.lines[0].product_id
        shop_of(app).book.lower(product_id, 10_000)  # a stale figure: none left, as heard
        await pilot.press("f5")
        await screen_of(pilot, PayScreen)  # the shop, asked, has them: on to paying


async def test_closing_the_till_asks_first_then_shows_the_difference(fresh_shop):
    app = make_app(fresh_shop)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot, *demo_clerk(fresh_shop))
        view = await at_the_till(pilot)
        await open_till(pilot, "100000")
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
        assert money.format(expected) in facts and money.format(counted - expected) in facts
        await pilot.press("enter")
        question = await screen_of(pilot, ConfirmScreen)
        assert str(question.query_one("#confirm-amount", Label).render()) == (
            f"Counted {money.format(counted)} · expected {money.format(expected)}"
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
        assert f"Cash refunds {money.format(-product['price'])}" in facts, facts
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


async def test_an_enter_typed_before_the_question_showed_does_not_answer_it(fresh_shop):
    """Seen in a browser: the Enter that sent the cash handed over was taken as the answer
    to the question it asked as well. A key pressed before the question was put up (here
    a second Enter, delivered behind the screen's push as a busy app or link delivers it)
    reaches the question's focused *Sell* button; it must not sell."""
    app = make_app(fresh_shop)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot, *demo_clerk(fresh_shop))
        await at_the_till(pilot)
        await open_till(pilot)
        await Keys(pilot).scan("MIE-0001", 1)
        await pilot.press("f5")
        await screen_of(pilot, PayScreen)
        typed_in_the_cash_dialog = events.Key("enter", "\r")
        await pilot.press("enter")  # the exact amount: asks first
        question = await screen_of(pilot, ConfirmScreen)
        app.post_message(typed_in_the_cash_dialog)
        for _ in range(HOPS):  # each pause: every message then queued is handled
            await pilot.pause()
        assert app.screen is question and sales_on_server(fresh_shop) == []
        await pilot.press("enter")  # an Enter once the question shows answers it
        await screen_of(pilot, ReceiptScreen)
    assert len(sales_on_server(fresh_shop)) == 1
