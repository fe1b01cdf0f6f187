"""Helpers for driving the warung app with Textual's pilot against a real server."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from typing import Any, NamedTuple

from textual.command import CommandList, CommandPalette
from textual.pilot import Pilot
from textual.widgets import Input, Label

from client_tui.app import WarungApp
from client_tui.connection import Target
from client_tui.screens.home import HomeScreen
from client_tui.settings import Settings
from client_tui.shop import Shop
from client_tui.widgets.catalog import CatalogView
from client_tui.widgets.orders import OrdersView
from client_tui.widgets.product_table import ProductTable
from protocol.client import AsyncClient
from protocol.errors import Unavailable
from tests.e2e.harness import ServerProcess, wait_until_async

_names = itertools.count(1)


class Account(NamedTuple):
    username: str
    password: str


def make_app(server: ServerProcess, **options: Any) -> WarungApp:
    options.setdefault("settings", Settings())
    return still(WarungApp(Target("127.0.0.1", server.port), **options))


def still(app: WarungApp) -> WarungApp:
    """No animations: the pilot waits for each to end (the tab underline takes 0.4 s)."""
    app.animation_level = "none"
    return app


def warung(pilot: Pilot[Any]) -> WarungApp:
    """The app `pilot` drives: every test here runs a WarungApp."""
    assert isinstance(pilot.app, WarungApp)
    return pilot.app


def shop_of(app: WarungApp) -> Shop:
    """The shop of `app`, signed in (or opened offline)."""
    assert app.shop is not None, "not signed in"
    return app.shop


def new_customer(server: ServerProcess, prefix: str = "buyer") -> Account:
    """Sign up a customer of the test's own (its own cart and orders)."""
    username, password = f"{prefix}{time.monotonic_ns() % 10**9}{next(_names)}", "secret-pass-1"
    with server.client() as client:
        client.call("auth.register", username=username, password=password)
    return Account(username, password)


async def wait_for(
    pilot: Pilot[Any], condition: Callable[[], Any], what: str, timeout: float = 10.0
) -> Any:
    """Let the app run until `condition()` is truthy; fail after `timeout` seconds."""
    return await wait_until_async(condition, timeout, what, pause=pilot.pause)


async def run_command(pilot: Pilot[Any], typed: str, title: str) -> None:
    """Open the command palette, type `typed`, check that the first match is `title`, run it."""
    app = pilot.app
    await pilot.press("ctrl+p")
    palette = await wait_for(
        pilot, lambda: isinstance(app.screen, CommandPalette) and app.screen, "the palette"
    )
    await pilot.press(*typed)
    matches = palette.query_one(CommandList)
    await wait_for(pilot, lambda: matches.option_count, "a match")
    assert title in str(matches.get_option_at_index(0).prompt)
    await pilot.press("enter")


async def sign_in(pilot: Pilot[Any], username: str, password: str) -> HomeScreen:
    """Fill the sign-in form, submit it, and wait for the home screen's first page."""
    app = pilot.app
    await wait_for(pilot, lambda: app.screen.query("#username"), "the sign-in screen")
    app.screen.query_one("#username", Input).value = username
    app.screen.query_one("#password", Input).value = password
    app.screen.query_one("#password", Input).focus()
    await pilot.press("enter")
    return await home_loaded(pilot)


async def orders_listing(
    pilot: Pilot[Any], username: str, password: str, order_id: int
) -> OrdersView:
    """Sign in, open Orders (F4) and wait until `order_id` is listed; returns the view."""
    await sign_in(pilot, username, password)
    await pilot.press("f4")
    orders = pilot.app.screen.query_one("#orders-view", OrdersView)
    await wait_for(pilot, lambda: order_id in orders.orders, f"order {order_id} listed")
    return orders


async def home_loaded(pilot: Pilot[Any]) -> HomeScreen:
    app = pilot.app
    await wait_for(pilot, lambda: isinstance(app.screen, HomeScreen), "the home screen")
    await wait_for(
        pilot,
        lambda: app.screen.query("#products") and products(app).row_count > 0,
        "the first catalog page",
    )
    return app.screen  # type: ignore[return-value]


def notified(app: Any, text: str) -> Any:
    """The notification on screen whose message holds `text`, or None."""
    return next((note for note in app._notifications if text in note.message), None)


def refuse(client: AsyncClient, op: str, error: BaseException) -> list[str]:
    """From now on `client` (the app's SDK client) raises `error` for `op`, as if the server
    had answered so; every other call goes to the server. Returns the refused calls."""
    refused: list[str] = []
    call = client.call

    async def answer(name: str, args: dict[str, Any] | None = None, /, **kw: Any) -> Any:
        if name == op:
            refused.append(name)
            raise error
        return await call(name, args, **kw)

    # on this instance only: `del client.call` gives the method back
    client.call = answer  # type: ignore[method-assign]
    return refused


async def end_past_a_refused_page(pilot: Pilot[Any], view: Any, op: str) -> None:
    """End in `view`'s table with its next page's read (`op`) refused once, then End again,
    which must ask for that page anew."""
    client = shop_of(warung(pilot)).client
    refused = refuse(client, op, Unavailable("the database is busy", {}))
    view.table.focus()
    await pilot.press("end")
    await wait_for(pilot, lambda: refused and view.loaded, "the next page refused")
    del client.call
    await pilot.press("end")


def products(app: Any) -> ProductTable:
    return app.screen.query_one("#products", ProductTable)


def catalog(app: Any) -> CatalogView:
    return app.screen.query_one("#catalog-view", CatalogView)


def label_text(app: Any, selector: str) -> str:
    return str(app.screen.query_one(selector, Label).render())


async def search(pilot: Pilot[Any], text: str) -> ProductTable:
    """Search the catalog and wait until the table shows that listing."""
    app = pilot.app
    await pilot.press("slash")
    app.screen.query_one("#search", Input).value = text
    await pilot.press("enter")
    table = products(app)
    await wait_for(
        pilot,
        lambda: catalog(app).loaded and catalog(app).query_text == text,
        f"the listing for {text!r}",
    )
    return table


def product_by_sku(server: ServerProcess, sku: str) -> dict[str, Any]:
    with server.client("admin") as client:
        return client.call("catalog.get", sku=sku)


async def add_by_sku(pilot: Pilot[Any], sku: str) -> None:
    """Find a product by SKU in the catalog and add one unit with `a`."""
    app = warung(pilot)
    before = shop_of(app).cart.get("count", 0)
    table = await search(pilot, sku)
    assert table.highlighted is not None and table.highlighted["sku"] == sku
    await pilot.press("a")
    await wait_for(pilot, lambda: shop_of(app).cart["count"] == before + 1, f"{sku} in the cart")


def buy(server: ServerProcess, sku: str, qty: int) -> dict[str, Any]:
    """Another customer buys `qty` of `sku` (through the blocking SDK)."""
    username, password = new_customer(server, "other")
    return checkout_as(server, username, password, sku, qty)


def customer_with_order(server: ServerProcess, sku: str) -> tuple[str, str, dict[str, Any]]:
    """A new customer who has bought one `sku`: their username, password and order."""
    username, password = new_customer(server)
    return username, password, checkout_as(server, username, password, sku, 1)


def checkout_as(
    server: ServerProcess, username: str, password: str, sku: str, qty: int
) -> dict[str, Any]:
    with server.client() as client:
        client.login(username, password)
        product = client.call("catalog.get", sku=sku)
        client.call("cart.add", product_id=product["id"], qty=qty)
        return client.checkout({"method": "card", "token": "ok"})
