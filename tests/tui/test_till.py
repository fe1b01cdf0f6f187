"""Selling at the till against a real server: a whole cash sale by keys (counted), a card
declined then paid, a lost reply sent again with the sale's key, stock gone at the till.
The till's opening and closing: tests/tui/test_till_session.py.

Every test that opens a till runs on a shop of its own (`fresh_shop`): the demo clerk's
register is the clerk's, on that server, until closed."""

from __future__ import annotations

from textual import events
from textual.widgets import Digits, Input, Label

from client_tui.screens.confirm import ConfirmScreen
from client_tui.screens.pay import PayScreen
from client_tui.screens.receipt import ReceiptScreen
from protocol.client import ConnectionLost
from protocol.errors import Unavailable
from tests.tui.pilot import (
    buy,
    label_text,
    make_app,
    product_by_sku,
    refuse,
    shop_of,
    wait_for,
)
from tests.tui.pos_pilot import (
    Keys,
    cash_exact,
    pos,
    sales_on_server,
    screen_of,
    selling,
    total_digits,
)

THREE = ("MIE-0001", "MIE-0002", "KOP-0002")
HOPS = 20  # a key's way from the app to the focused button and back, and the press's: ~10


async def test_a_cash_sale_of_three_items_by_keys(fresh_shop, home):
    prices = {sku: product_by_sku(fresh_shop, sku) for sku in THREE}
    total = sum(product["price"] for product in prices.values())
    app = make_app(fresh_shop)
    async with app.run_test(size=(80, 24)) as pilot:
        view = await selling(pilot, fresh_shop)  # once a shift, not counted
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
    assert receipt.saved == f"Receipt saved: {saved}"
    assert f"Receipt {sale['id']}" in receipt.receipt and "Till kasir-1 · clerk" in receipt.receipt


async def test_a_declined_card_sells_nothing_and_cash_then_pays(fresh_shop):
    stock = product_by_sku(fresh_shop, "MIE-0003")["stock"]
    app = make_app(fresh_shop)
    async with app.run_test(size=(80, 24)) as pilot:
        view = await selling(pilot, fresh_shop)
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
        view = await selling(pilot, fresh_shop)
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
        view = await selling(pilot, fresh_shop)
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
        view = await selling(pilot, fresh_shop)
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
        view = await selling(pilot, fresh_shop)
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
        view = await selling(pilot, fresh_shop)
        await Keys(pilot).scan("2*KOP-0011", 1)
        product_id = view.ticket.lines[0].product_id
        shop_of(app).book.lower(product_id, 10_000)  # a stale figure: none left, as heard
        await pilot.press("f5")
        await screen_of(pilot, PayScreen)  # the shop, asked, has them: on to paying


async def test_an_enter_typed_before_the_question_showed_does_not_answer_it(fresh_shop):
    """Seen in a browser: the Enter that sent the cash handed over was taken as the answer
    to the question it asked as well. A key pressed before the question was put up (here
    a second Enter, delivered behind the screen's push as a busy app or link delivers it)
    reaches the question's focused *Sell* button; it must not sell."""
    app = make_app(fresh_shop)
    async with app.run_test(size=(80, 24)) as pilot:
        await selling(pilot, fresh_shop)
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


async def test_a_product_archived_after_it_was_rung_up_is_named_when_paying(fresh_shop):
    product = product_by_sku(fresh_shop, "MIE-0008")
    app = make_app(fresh_shop)
    async with app.run_test(size=(80, 24)) as pilot:
        await selling(pilot, fresh_shop)
        await Keys(pilot).scan("MIE-0008", 1)
        with fresh_shop.client("admin") as admin:
            admin.call("admin.product.archive", product_id=product["id"])
        dialog = await cash_exact(pilot)
        problem = dialog.query_one("#pay-problem", Label)
        await wait_for(pilot, lambda: problem.display, "the refusal")
        assert str(problem.render()) == (
            f"Nothing was sold: {product['name']} is no longer sold. Escape, then x removes "
            "its line."
        )
    assert sales_on_server(fresh_shop) == []


async def test_a_short_amount_is_refused_and_its_refusal_goes_once_retyped(fresh_shop):
    app = make_app(fresh_shop)
    async with app.run_test(size=(80, 24)) as pilot:
        await selling(pilot, fresh_shop)
        await Keys(pilot).scan("MIE-0009", 1)
        await pilot.press("f5")
        dialog = await screen_of(pilot, PayScreen)
        await pilot.press(*"1", "enter")
        problem = dialog.query_one("#pay-problem", Label)
        await wait_for(pilot, lambda: problem.display, "the refusal")
        assert "short of the total" in str(problem.render())
        await pilot.press("0")
        await wait_for(pilot, lambda: not problem.display, "the refusal gone as retyped")
    assert sales_on_server(fresh_shop) == []


async def test_a_price_changed_after_it_was_rung_up_is_charged_only_once_shown(fresh_shop):
    """The till sends the total it shows: a price changed at another station meanwhile is
    refused, the dialog shows the new total and the lines take the new price, and the next
    Enter (asked again, naming the new amount) sells for it."""
    product = product_by_sku(fresh_shop, "MIE-0009")
    raised = product["price"] + 1_000
    app = make_app(fresh_shop)
    async with app.run_test(size=(80, 24)) as pilot:
        await selling(pilot, fresh_shop)
        await Keys(pilot).scan("2*MIE-0009", 1)
        with fresh_shop.client("admin") as admin:
            admin.call("admin.product.update", product_id=product["id"], price=raised)
        dialog = await cash_exact(pilot)
        problem = dialog.query_one("#pay-problem", Label)
        await wait_for(pilot, lambda: problem.display, "the refusal")
        money = shop_of(app).money
        assert str(problem.render()) == (
            f"A price changed: the sale comes to {money.format(2 * raised)}, not "
            f"{money.format(2 * product['price'])}. Nothing was sold. Tell the customer; "
            "Enter charges it."
        )
        shown = dialog.query_one("#pay-total", Digits).value
        assert shown == money.format(2 * raised, symbol=False)
        assert sales_on_server(fresh_shop) == []

        await pilot.press("enter")
        question = await screen_of(pilot, ConfirmScreen)
        assert question.amount == f"Total {money.format(2 * raised)}"
        await pilot.press("enter")
        await wait_for(pilot, lambda: sales_on_server(fresh_shop), "the sale")
    [sale] = sales_on_server(fresh_shop)
    assert sale["total"] == 2 * raised


async def test_ctrl_q_with_a_ticket_not_sold_asks_first_naming_it(fresh_shop):
    """Quitting drops a ticket being rung up: Ctrl+Q asks, naming it; Back keeps the app
    and the ticket. A sale in doubt is said to have maybe gone through, a second Ctrl+Q
    puts up no second question, and Quit quits."""
    app = make_app(fresh_shop)
    async with app.run_test(size=(80, 24)) as pilot:
        await selling(pilot, fresh_shop)
        await Keys(pilot).scan("2*MIE-0001", 1)
        await pilot.press("ctrl+q")
        question = await screen_of(pilot, ConfirmScreen)
        price = product_by_sku(fresh_shop, "MIE-0001")["price"]
        assert question.amount == f"2 items · {shop_of(app).money.format(2 * price)}"
        assert "not sold: quitting drops it" in question.what
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, ConfirmScreen), "back")
        assert app.is_running and len(pos(app).ticket.lines) == 1
        pos(app).ticket.in_doubt = {"method": "cash"}  # as after a lost reply
        await pilot.press("ctrl+q")
        question = await screen_of(pilot, ConfirmScreen)
        assert "may have gone through" in question.what
        await pilot.press("ctrl+q")  # again: the one question stays
        assert [type(s) for s in app.screen_stack].count(ConfirmScreen) == 1
        await pilot.press("enter")
        await wait_for(pilot, lambda: not app.is_running, "quit")


async def test_a_browser_tab_keeps_no_receipt_on_the_web_host(fresh_shop, home):
    """A tab's machine is the web host, shared by every tab: its receipt is shown, not saved
    there, and the dialog says nothing of a file."""
    app = make_app(fresh_shop, sells_offline=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await selling(pilot, fresh_shop)
        await Keys(pilot).scan("MIE-0003", 1)
        await cash_exact(pilot)
        receipt = await screen_of(pilot, ReceiptScreen)
        assert f"Receipt {receipt.order['id']}" in receipt.receipt  # shown whole
        assert not receipt.query("#receipt-saved")
    assert not (home / "data" / "warung" / "receipts").exists()
