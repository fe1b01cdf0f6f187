"""`warung web` in headless Chromium (Debian's `chromium` and `chromium-driver`): the page as
a customer on a phone and a clerk at a desktop use it, by taps, clicks and keys.

Without chromium the tests skip, unless CI=true: then they fail (.ci/run installs it).
Screenshots at phone (390x844) and desktop (1440x900) sizes go to the session's tmp dir
(`web-screenshots*`); docs/web/ keeps copies of good ones.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from selenium.webdriver.common.keys import Keys

from protocol.errors import InvalidState
from tests.e2e.harness import ServerProcess
from tests.tui.pilot import Account, new_customer
from tests.web.browser import DESKTOP, PHONE, RETAP_S, RETAPS, Browser, Screen
from tests.web.webproc import WebProcess

CARD = {"method": "card", "token": "tok"}
LIVE_S = 1.0  # the promise: a sale elsewhere shows on the page within a second


@pytest.fixture
def phone(request: pytest.FixtureRequest, shots: Path) -> Iterator[Browser]:
    browser = Browser(PHONE, phone=True)
    yield browser
    browser.keep_if_failed(request, shots)
    browser.close()


@pytest.fixture
def desktop(request: pytest.FixtureRequest, shots: Path) -> Iterator[Browser]:
    browser = Browser(DESKTOP)
    yield browser
    browser.keep_if_failed(request, shots)
    browser.close()


def sign_in(browser: Browser, url: str, account: Account) -> None:
    """Open the page and sign in: type into the form, then tap *Sign in*."""
    browser.open(url)
    browser.wait_for("Username", timeout=30)
    browser.keys(account.username)
    browser.settled(account.username)  # typed into the field that has the focus
    browser.keys(Keys.TAB)  # to the password, as a person waits to see the field change
    browser.settled("Password")
    browser.keys(account.password)
    browser.wait_for("•" * len(account.password))
    browser.tap("Sign in", last=True)  # the button, under the form's title


def product_in_stock(shop: ServerProcess, at_least: int) -> dict[str, Any]:
    with shop.client("customer") as client:
        items = client.call("catalog.list", limit=50)["items"]
    return next(p for p in items if p["stock"] >= at_least)


def header_row(screen: Screen) -> int:
    return next(row for row, line in enumerate(screen.lines) if "Price" in line)


def search(browser: Browser, text: str) -> None:
    browser.tap("Search name")
    browser.keys(text, Keys.ENTER)
    browser.wait_for("1 result")


def add_to_cart_by_tap(phone: Browser, shop: ServerProcess, account: Account) -> None:
    """Tap the product dialog's "Add to cart" until the cart holds a line. The dialog stays
    open until the server answers, so a tap is tapped again only when the server's cart is
    still empty well after it (a second add would add a second unit)."""
    with shop.client(None) as client:
        client.login(account.username, account.password)
        for _ in range(RETAPS):
            phone.tap("Add to cart", last=True)
            taken = time.monotonic() + 3 * RETAP_S
            while time.monotonic() < taken and not client.call("cart.get")["items"]:
                time.sleep(0.05)
            if client.call("cart.get")["items"]:
                break
    phone.wait_for("Cart 1 ·")


def test_a_customer_on_a_phone_signs_in_adds_a_product_and_checks_out_by_touch(
    shop: ServerProcess, web: WebProcess, phone: Browser, shots: Path
):
    account = new_customer(shop, "webphone")
    product = product_in_stock(shop, 3)
    sign_in(phone, web.url, account)
    phone.wait_for("a Add to cart")  # the footer: the screen laid out to the width
    catalog = phone.settled("Stock")
    assert catalog.cols <= 45, "a phone gets the phone layout (below 60 columns)"
    header = catalog.lines[header_row(catalog)]
    assert header.split() == ["Name", "Price", "Stock"]  # no SKU column on a phone
    phone.screenshot(shots / "phone-catalog.png")
    first_row = catalog.lines[header_row(catalog) + 1]
    phone.swipe("Rp", 0, -300)  # a finger drags the list up: it scrolls
    phone.wait_gone(first_row)

    search(phone, product["sku"])
    first_word = product["name"].split()[0]
    phone.tap(first_word, last=True)  # the row: the cursor comes to it
    phone.tap_for(first_word, "Add to cart", last=True)  # again: the product opens
    add_to_cart_by_tap(phone, shop, account)
    phone.screenshot(shots / "phone-added.png")

    phone.tap_for("Cart F3", "1 item · Total")
    phone.tap_for("Check out", "Payment token", last=True)  # the footer's key, tapped
    phone.tap("E-wallet")
    dialog = phone.settled("Pay Rp")
    phone.screenshot(shots / "phone-checkout.png")
    assert all(line.startswith(("│", "╭", "╰")) for line in dialog.lines if "Pay Rp" in line)
    phone.tap_for("Pay Rp", "Thank you!")
    phone.screenshot(shots / "phone-paid.png")
    phone.tap_for("Close", "Your cart is empty", last=True)
    phone.swipe("Check out", -300)  # the footer's keys, wider than the phone, slide along
    phone.tap_for("Sign out", "Username")

    with shop.client(None) as client:
        client.login(account.username, account.password)
        [order] = client.call("order.list")["items"]
        assert order["status"] == "paid" and order["payment"]["method"] == "ewallet"
        assert [(line["product_id"], line["qty"]) for line in order["lines"]] == [
            (product["id"], 1)
        ]


def test_a_sale_by_another_client_changes_the_stock_on_the_page_within_a_second(
    shop: ServerProcess, web: WebProcess, desktop: Browser, shots: Path
):
    account = new_customer(shop, "webwatch")
    product = product_in_stock(shop, 10)
    sign_in(desktop, web.url, account)
    page = desktop.wait_for(product["sku"], timeout=30)
    assert page.cols >= 120, "a desktop gets the wide layout"
    search(desktop, product["sku"])
    row = desktop.wait_for(f"{product['stock']} in stock")
    desktop.screenshot(shots / "desktop-catalog.png")
    assert row.find("Categories") or row.find("All products"), "the tree beside the table"

    buyer = new_customer(shop, "webother")
    with shop.client(None) as other:
        other.login(buyer.username, buyer.password)
        other.call("cart.add", product_id=product["id"], qty=2)
        other.checkout(CARD)
        sold = time.monotonic()
    desktop.wait_for(f"{product['stock'] - 2} in stock", timeout=LIVE_S)
    print(f"stock on the page {time.monotonic() - sold:.3f} s after the sale's answer")


def test_a_clerk_rings_up_a_cash_sale_from_the_page(
    shop: ServerProcess, web: WebProcess, desktop: Browser, shots: Path
):
    product = product_in_stock(shop, 5)
    with shop.client("clerk") as clerk:
        clerk.call("clerk.register.open", station="web-1", opening_cash=100_000_00)
    sign_in(desktop, web.url, Account("clerk", shop.passwords["clerk"]))
    desktop.settled("web-1", timeout=30)  # the till opened above, found at sign-in
    desktop.keys(f"2*{product['sku']}", Keys.ENTER)
    desktop.wait_for(product["name"][:20])
    desktop.tap_for("Cash", "Cash handed over", last=True)  # the footer's F5, clicked
    cash = (product["price"] * 2 // 100 // 10_000 + 1) * 10_000  # whole rupiah, with change
    desktop.keys(str(cash), Keys.ENTER)
    desktop.wait_for("Sell (Enter)")  # one Enter asks first, naming the change
    desktop.tap_for("Sell (Enter)", "Change to give")
    desktop.settled("Change to give")
    desktop.screenshot(shots / "desktop-receipt.png")

    with shop.client("clerk") as clerk:
        [sale] = clerk.call("order.list", limit=1)["items"]
    assert sale["channel"] == "pos" and sale["payment"]["method"] == "cash"
    assert [(line["product_id"], line["qty"]) for line in sale["lines"]] == [(product["id"], 2)]


def test_a_clerk_on_a_phone_opens_the_point_of_sale_with_its_buttons(
    shop: ServerProcess, web: WebProcess, phone: Browser, shots: Path
):
    product = product_in_stock(shop, 2)
    with shop.client("clerk") as clerk:
        try:
            clerk.call("clerk.register.get")  # opened by the desktop clerk's test
        except InvalidState:
            clerk.call("clerk.register.open", station="web-2", opening_cash=100_000_00)
    sign_in(phone, web.url, Account("clerk", shop.passwords["clerk"]))
    phone.wait_for("E-wallet", timeout=30)  # the point of sale's buttons, on a phone alone
    phone.keys(f"2*{product['sku']}", Keys.ENTER)
    price = f"Rp {product['price'] // 100:,}".replace(",", ".")
    ticket = phone.settled("2 items")  # the line is on the ticket
    assert ticket.cols <= 45
    assert ticket.find(price) is not None, "the price shows whole at phone width"
    phone.screenshot(shots / "phone-pos.png")
    phone.tap_for("Cash", "Cash handed over")
    phone.screenshot(shots / "phone-pay.png")
