"""The home screen's footer: below 100 columns Help comes first, then a tab's own keys, and
Sign out last, while Quit and the palette are left to Help and Ctrl+P; wider, it shows them
all."""

from __future__ import annotations

from typing import Any

from textual.pilot import Pilot
from textual.widgets._footer import FooterKey

from client_tui.screens.help import HelpScreen
from tests.e2e.harness import ServerProcess
from tests.tui.pilot import make_app, sign_in, wait_for
from tests.tui.pos_pilot import at_the_till, demo_clerk

STAFF_TABS = ("f4", "f2", "f5", "f6", "f7", "f8")  # Fulfilment, Inventory ... Audit


def footer_keys(pilot: Pilot[Any]) -> dict[str, FooterKey]:
    """The footer's keys by action, each laid out (a recomposed footer's are not, at once)."""
    keys = pilot.app.screen.query(FooterKey)
    return {key.action: key for key in keys if key.region.width}


async def shown_whole(pilot: Pilot[Any], tab: str) -> dict[str, FooterKey]:
    """The footer's keys on `tab`, once Help and every key before Sign out end inside the
    screen."""
    await pilot.press(tab)
    width = pilot.app.size.width

    def fits() -> bool:
        keys = footer_keys(pilot)
        inside = [k.region.right <= width for action, k in keys.items() if action != "sign_out"]
        return "help" in keys and all(inside)

    await wait_for(pilot, fits, f"the footer of {tab} within {width} columns")
    return footer_keys(pilot)


async def test_at_80_columns_every_staff_tabs_keys_and_help_fit(shop: ServerProcess) -> None:
    app = make_app(shop)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot, "admin", shop.passwords["admin"])
        for tab in STAFF_TABS:
            keys = await shown_whole(pilot, tab)
            assert not keys.keys() & {"quit", "command_palette"}, (tab, keys)
            in_line = sorted(keys, key=lambda action: keys[action].region.x)
            assert in_line[0] == "help" and in_line[-1] == "sign_out", (tab, in_line)
        await pilot.resize_terminal(44, 30)  # a phone: Help first still shows
        for tab in STAFF_TABS:
            await pilot.press(tab)
            await wait_for(
                pilot,
                lambda: (help_ := footer_keys(pilot).get("help")) and help_.region.right <= 44,
                f"Help shown on {tab} at 44 columns",
            )
        await pilot.resize_terminal(120, 24)
        await wait_for(
            pilot, lambda: {"sign_out", "quit"} <= footer_keys(pilot).keys(), "all keys at 120"
        )


async def test_the_till_shows_f1_for_help_which_says_the_keys_its_entry_line_hides(
    fresh_shop: ServerProcess,
) -> None:
    app = make_app(fresh_shop)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot, *demo_clerk(fresh_shop))
        await at_the_till(pilot)
        keys = await shown_whole(pilot, "f3")
        assert keys["help"].key == "f1"
        await pilot.press("f1")
        help_ = await wait_for(
            pilot, lambda: isinstance(pilot.app.screen, HelpScreen) and pilot.app.screen, "help"
        )
        here = str(help_.query_one("#help-here").render())  # the keys the entry line hides
        assert "Tab goes to the ticket: + and - change the line" in " ".join(here.split())
