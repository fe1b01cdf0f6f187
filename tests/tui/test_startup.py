"""Start-up: what shows from the first frame when the app signs in by itself (a kept
session, `--demo`), and that the sign-in form is never shown when it is not used."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from client_tui.app import WarungApp
from client_tui.connection import Target
from client_tui.demo import DemoServer
from client_tui.screens.home import CustomerScreen
from client_tui.screens.signin import SignInScreen
from client_tui.screens.starting import StartingScreen
from client_tui.settings import Settings
from tests.tui.pilot import home_loaded, label_text, make_app, notified, still, wait_for


def screens_shown(app: WarungApp) -> list[Any]:
    """Every screen the app puts in front, in order, from now on."""
    shown: list[Any] = []
    push, switch = app.push_screen, app.switch_screen

    def pushed(screen: Any, *args: Any, **kw: Any) -> Any:
        shown.append(screen)
        return push(screen, *args, **kw)

    def switched(screen: Any) -> Any:
        shown.append(screen)
        return switch(screen)

    app.push_screen, app.switch_screen = pushed, switched  # type: ignore[method-assign]
    return shown


async def test_a_kept_session_signs_in_without_showing_the_form(shop, customer):
    with shop.client() as client:
        token = client.login(*customer)["token"]
    Settings().keep_session(make_app(shop).target, customer.username, token)
    app = make_app(shop)
    shown = screens_shown(app)
    async with app.run_test(size=(80, 24)) as pilot:
        first = shown[0]
        assert isinstance(first, StartingScreen)
        assert first.doing == f"Signing in as {customer.username} (kept session)…"
        await home_loaded(pilot)
    assert [type(screen) for screen in shown] == [StartingScreen, CustomerScreen]


async def test_the_demo_says_it_is_starting_then_shows_the_catalog(home: Path):
    demo = DemoServer(home / "demo")
    demo.begin()
    app = still(WarungApp(Target(), settings=None, user="customer", demo=demo))
    shown = screens_shown(app)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            assert isinstance(app.screen, StartingScreen)
            assert label_text(app, "#starting-what") == "Starting the demo shop…"
            await home_loaded(pilot)
    finally:
        demo.stop()
    assert [type(screen) for screen in shown] == [StartingScreen, CustomerScreen]


async def test_a_second_demo_window_joins_and_says_so(home: Path):
    owner = DemoServer(home / "demo")
    shop = owner.start()
    demo = DemoServer(home / "demo")
    demo.begin()
    app = still(WarungApp(Target(), settings=None, user="customer", demo=demo))
    shown = screens_shown(app)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await home_loaded(pilot)
            await wait_for(pilot, lambda: notified(app, "Joined the demo shop"), "the notice")
            assert app.target == Target(shop.host, shop.port)
    finally:
        demo.stop()
        owner.stop()
    assert SignInScreen not in [type(screen) for screen in shown]
