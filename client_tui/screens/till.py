"""Opening and closing the till (a register session, PROTOCOL.md 11.7).

Opening takes the station's name and the cash counted into the drawer. Closing first asks
the server for the open register's running figures (`clerk.register.get`: the expected
cash and the sales by method, counting every sale and refund of the session wherever it
was made), takes the cash counted out, shows it against that expected cash as it is typed,
asks first (naming both amounts), and then shows the server's reckoning: expected,
counted, the difference in large type, and the sales by method.
"""

from __future__ import annotations

import socket
from typing import Any, ClassVar

from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Digits, Footer, Input, Label, Static

from client_tui.errors import CALL_ERRORS, describe, end_if_signed_out
from client_tui.money import Money
from client_tui.receipt import METHODS
from client_tui.screens.confirm import ConfirmScreen
from client_tui.shop import Shop
from protocol.errors import InvalidState

MAX_CASH = 10**12
MAX_STATION = 64


def default_station() -> str:
    return socket.gethostname()[:MAX_STATION] or "till"


def parse_cash(money: Money, typed: str) -> int:
    """A cash count typed in whole units; ValueError says what is wrong."""
    if not typed.strip():
        raise ValueError("Count the cash in the drawer and type it (0 when it is empty).")
    amount = money.parse(typed)
    if amount > MAX_CASH:
        raise ValueError("That is more cash than a till holds.")
    return amount


class TillDialog(ModalScreen[Any]):
    """What both dialogs share: a problem line, a Back button, and no going back while the
    call runs."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "back", "Back")]

    def __init__(self, shop: Shop) -> None:
        super().__init__()
        self.shop = shop
        self.busy = False

    def problem(self, text: str) -> None:
        problem = self.query_one(".till-problem", Label)
        problem.update(text)
        problem.display = bool(text)

    def action_back(self) -> None:
        if not self.busy:
            self.dismiss(None)

    @on(Button.Pressed, "#till-back")
    def _back_pressed(self) -> None:
        self.action_back()


def _buttons(go: Button) -> Horizontal:
    """The dialog's buttons: what it does (Enter in the cash field does the same), and Back."""
    return Horizontal(go, Button("Back", id="till-back", compact=True), classes="buttons")


class TillOpenScreen(TillDialog):
    """Dismissed with True once a till is open for the clerk, None when they back out."""

    AUTO_FOCUS = "#opening-cash"

    def compose(self) -> ComposeResult:
        station = self.shop.till.station or default_station()
        with Vertical(id="till-open-dialog", classes="dialog") as dialog:
            dialog.border_title = "Open the till"
            yield Label("Count the cash in the drawer: selling needs an open till.")
            with Horizontal(classes="till-field"):
                yield Label("Station", classes="till-caption")
                yield Input(station, max_length=MAX_STATION, id="station", compact=True)
            with Horizontal(classes="till-field"):
                yield Label("Opening cash", classes="till-caption")
                yield Input(id="opening-cash", compact=True)
            yield Label("", classes="till-problem")
            yield _buttons(Button("Open till", id="till-go", variant="primary", compact=True))
        yield Footer()

    def on_mount(self) -> None:
        self.problem("")

    @on(Input.Submitted, "#station")
    def _station_done(self) -> None:
        self.query_one("#opening-cash", Input).focus()

    @on(Input.Submitted, "#opening-cash")
    @on(Button.Pressed, "#till-go")
    def _submitted(self) -> None:
        station = self.query_one("#station", Input).value.strip()
        if not station:
            self.problem("Name the station, e.g. kasir-1.")
            return
        try:
            cash = parse_cash(self.shop.money, self.query_one("#opening-cash", Input).value)
        except ValueError as error:
            self.problem(str(error))
            return
        if not self.busy:
            self._open(station, cash)

    @work(exclusive=True, group="till")
    async def _open(self, station: str, cash: int) -> None:
        self.busy = True
        try:
            register = await self.shop.open_till(station, cash)
        except CALL_ERRORS as error:
            self.problem(describe(error))
            end_if_signed_out(self, error)
            return
        finally:
            self.busy = False
        if register is None:
            self.app.notify(
                "A till was open for you already (opened earlier or at another station): "
                "carry on selling on it.",
                title="Till",
            )
        self.dismiss(True)


class TillCloseScreen(TillDialog):
    """Dismissed with the closed register, or None when the clerk backs out."""

    AUTO_FOCUS = "#counted-cash"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back"),
        Binding("enter", "done", "Back to the till"),
    ]

    def __init__(self, shop: Shop) -> None:
        super().__init__(shop)
        self.running: dict[str, Any] | None = None  # the open register, as last read
        self.asked = False  # the read has answered (or failed)
        self.closed: dict[str, Any] | None = None

    def compose(self) -> ComposeResult:
        till = self.shop.till
        with Vertical(id="till-close-dialog", classes="dialog") as dialog:
            dialog.border_title = f"Close the till {till.station}".rstrip()
            yield Static(self._reckoning(), id="till-facts")
            with Horizontal(classes="till-field", id="counted-field"):
                yield Label("Counted cash", classes="till-caption")
                yield Input(id="counted-cash", compact=True)
            yield Label("", id="till-difference-label")
            yield Digits("", id="till-difference")
            yield Label("", classes="till-problem")
            yield _buttons(Button("Close till", id="till-go", variant="warning", compact=True))
        yield Footer()

    def on_mount(self) -> None:
        self.problem("")
        self.query_one("#till-difference-label").display = False
        self.query_one("#till-difference", Digits).display = False
        self._read()

    @work(exclusive=True, group="till-read")
    async def _read(self) -> None:
        """The server's running figures, asked for each time the dialog opens."""
        try:
            self.running = await self.shop.read_till()
        except CALL_ERRORS as error:
            self.problem(f"The expected cash could not be read: {describe(error)}")
            end_if_signed_out(self, error)
        else:
            if self.running is None:
                self.problem("No till is open for you (closed at another station?).")
            else:
                title = f"Close the till {self.running['station']}"
                self.query_one("#till-close-dialog").border_title = title
        finally:
            self.asked = True
        self._show_reckoning()

    def _counted(self) -> int | None:
        try:
            return parse_cash(self.shop.money, self.query_one("#counted-cash", Input).value)
        except ValueError:
            return None

    def _show_reckoning(self) -> None:
        if self.closed is None:
            self.query_one("#till-facts", Static).update(self._reckoning(self._counted()))

    def _reckoning(self, counted: int | None = None) -> Table:
        """Before closing: the server's running figures, and the difference as typed."""
        money, running = self.shop.money, self.running
        table = _facts()
        if running is None:
            note = "not known before closing" if self.asked else "asking the server…"
            table.add_row("Expected cash", Text(note, style="italic"))
            return table
        expected = running["expected_cash"]
        table.add_row("Opening cash", money.format(running["opening_cash"]))
        _by_method(table, money, running["by_method"])
        table.add_row(Text("Expected cash", style="bold"), money.format(expected))
        if counted is not None:
            table.add_row("Difference", _difference_short(money, counted - expected))
        return table

    @on(Input.Changed, "#counted-cash")
    def _counted_changed(self) -> None:
        self._show_reckoning()

    @on(Input.Submitted, "#counted-cash")
    @on(Button.Pressed, "#till-go")
    def _submitted(self) -> None:
        try:
            counted = parse_cash(self.shop.money, self.query_one("#counted-cash", Input).value)
        except ValueError as error:
            self.problem(str(error))
            return
        if not self.busy:
            self._close(counted)

    def _question(self, counted: int) -> ConfirmScreen:
        money = self.shop.money
        if self.running is None:
            what = (
                f"Close the till with {money.format(counted)} counted. The expected cash "
                "could not be read; it comes back with the difference. Selling stops until "
                "a till is opened again."
            )
            amount = f"Counted {money.format(counted)}"
        else:
            expected = self.running["expected_cash"]
            what = (
                f"Close the till with {money.format(counted)} counted against "
                f"{money.format(expected)} expected (difference: "
                f"{_difference_short(money, counted - expected)}). Selling stops until a till "
                "is opened again."
            )
            amount = f"Counted {money.format(counted)} · expected {money.format(expected)}"
        return ConfirmScreen("Close the till?", what, amount, go="Close till")

    @work(exclusive=True, group="till")
    async def _close(self, counted: int) -> None:
        if not await self.app.push_screen_wait(self._question(counted)):
            return
        self.busy = True
        try:
            register = await self.shop.close_till(counted)
        except InvalidState as error:
            if error.details.get("reason") == "no_open_register":
                self.shop.till.closed()
                self.problem("No till is open for you (closed at another station?).")
            else:
                self.problem(describe(error))
            return
        except CALL_ERRORS as error:
            self.problem(describe(error))
            end_if_signed_out(self, error)
            return
        finally:
            self.busy = False
        self.show_closed(register)

    def show_closed(self, register: dict[str, Any]) -> None:
        """The server's reckoning, once closed; Enter or Escape goes back."""
        self.closed = register
        money = self.shop.money
        self.query_one("#till-close-dialog").border_title = f"Till {register['station']} closed"
        table = _facts()
        table.add_row("Opening cash", money.format(register["opening_cash"]))
        _by_method(table, money, register["by_method"])  # in the order the count showed them
        table.add_row(Text("Expected cash", style="bold"), money.format(register["expected_cash"]))
        table.add_row(Text("Counted cash", style="bold"), money.format(register["counted_cash"]))
        self.query_one("#till-facts", Static).update(table)
        self.query_one("#counted-field").display = False
        self.query_one(".buttons").display = False
        difference = register["difference"]
        words = self.query_one("#till-difference-label", Label)
        words.update(_difference_words(money, difference))
        words.display = True
        digits = self.query_one("#till-difference", Digits)
        digits.update(money.format(difference, symbol=False))
        digits.display = True
        self.focus()  # off the hidden field, so Enter reaches the dialog

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "done":
            return self.closed is not None
        return True

    def action_done(self) -> None:
        self.dismiss(self.closed)

    def action_back(self) -> None:
        if self.closed is not None:
            self.dismiss(self.closed)
        else:
            super().action_back()


def _facts() -> Table:
    table = Table(box=None, show_header=False, pad_edge=False, expand=True)
    table.add_column(ratio=1)
    table.add_column(justify="right")
    return table


def _by_method(table: Table, money: Money, by_method: dict[str, dict[str, int]]) -> None:
    """A row per payment method: its sales' count and total; under it, the refunds made at
    this till in that method, if any, their count and amount (a server before `refunded`
    counts them in the total, one before `refunds` gives no count)."""
    for method, name in METHODS.items():
        takings = by_method.get(method, {})
        refunded = takings.get("refunded", 0)
        sold = takings.get("total", 0) + refunded
        table.add_row(f"{name} sales", f"{takings.get('count', 0)} · {money.format(sold)}")
        if refunded:
            count = f"{takings['refunds']} · " if "refunds" in takings else ""
            table.add_row(f"{name} refunds", f"{count}{money.format(-refunded)}")


def _difference_short(money: Money, difference: int) -> str:
    """As the difference is typed: `Rp 4.000,00 missing`, `Rp 5,00 more` or `none`."""
    if difference == 0:
        return "none"
    return f"{money.format(abs(difference))} {'missing' if difference < 0 else 'more'}"


def _difference_words(money: Money, difference: int) -> str:
    if difference < 0:
        return f"Difference: {money.format(-difference)} missing from the drawer"
    if difference > 0:
        return f"Difference: {money.format(difference)} more than expected"
    return "Difference: none, the drawer balances"
