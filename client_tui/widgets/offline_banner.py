"""The point of sale's offline banner, which also sends the sales rung up offline.

While the server is away the banner says so (cash only, prices and stock as last known) and
counts the sales queued on the station's disk; they are sent, oldest first, as soon as the
server answers (the link back, each resync, and every `SEND_EVERY_S` while any wait), and
before the till closes. It also counts the sales the shop refused, which a person must settle
(F9).
"""

from __future__ import annotations

from collections.abc import Callable

from textual import work
from textual.widgets import Label

from client_tui.errors import CALL_ERRORS, LINK_ERRORS, end_if_signed_out
from client_tui.hub import hub_of
from client_tui.offline_queue import Sent
from client_tui.orderfmt import counted
from client_tui.screens.confirm import ConfirmScreen
from client_tui.shop import Shop

SEND_EVERY_S = 2.0  # while sales rung up offline wait and the server answers: try sending


class OfflineBanner(Label):
    """The banner; `say` puts a line on the point of sale's message line."""

    def __init__(self, shop: Shop, say: Callable[[str], None], *, id: str | None = None) -> None:
        super().__init__("", id=id)
        self.shop = shop
        self._say = say
        self._sending = False  # the sales rung up offline are being sent

    def on_mount(self) -> None:
        self.show()
        self.watch(self.app, "link", lambda _: self._link_changed())
        if self.shop.offline is not None:
            hub_of(self).resynced.subscribe(self, lambda _: self.send_queued())
            self.set_interval(SEND_EVERY_S, self.send_queued)

    def _link_changed(self) -> None:
        self.show()
        if self.shop.online:
            self.send_queued()

    def show(self) -> None:
        """Offline (cash only, last known prices), the sales waiting, and those the shop
        refused; hidden when there is none of these."""
        parts = [part for part in (self._link_part(), self._refused_part()) if part]
        text = " · ".join(parts)
        self.update(text)
        self.display = bool(text)

    def _link_part(self) -> str:
        if self.shop.offline is None:
            off = self.shop.offline_off
            return f"OFFLINE · {off}" if off and not self.shop.online else ""
        waiting = self.shop.queued_count()
        sales = counted(waiting, "sale")
        if not self.shop.online:
            return f"OFFLINE · cash only · {sales} to send · prices and stock as last known"
        return f"Sending {sales} rung up offline to the shop…" if waiting else ""

    def _refused_part(self) -> str:
        refused = self.shop.refused_count()
        if not refused:
            return ""
        return f"{counted(refused, 'offline sale')} refused: F9 to review"

    def send_queued(self) -> None:
        """Start sending the queued sales, unless they are being sent or cannot be."""
        if not self._sending and self.shop.online and self.shop.queued_count():
            self._send_worker()

    @work(group="pos-send")
    async def _send_worker(self) -> None:
        await self.send_now()

    async def send_now(self) -> None:
        """Send the queued sales (unless they are being sent already) and tell how it went."""
        if self._sending:
            return
        self._sending = True
        try:
            sent = await self.shop.send_queued()
        finally:
            self._sending = False
        self._sent(sent)

    async def may_close_till(self) -> bool:
        """Closing the till with sales rung up offline still queued (the server answering):
        the clerk waits for them (the server then counts them in the till's figures), or
        closes now and reconciles later. Whether to close now."""
        if self.shop.queued_count():
            await self.send_now()
        waiting = self.shop.queued_count()
        if not waiting:
            return True
        sales = counted(waiting, "sale")
        question = ConfirmScreen(
            f"{sales} rung up offline not sent yet",
            "The till's figures do not count them yet. Wait: they are sent as soon as the "
            "shop takes them, then close. Or close now and reconcile later: the drawer holds "
            "their cash, and each is recorded with this till's session when it arrives (its "
            "audit entry says it came after the close).",
            sales,
            go="Close now, reconcile later",
            back="Wait",
        )
        close_now: bool = await self.app.push_screen_wait(question)
        return close_now

    def _sent(self, sent: Sent) -> None:
        if sent.recorded:
            count = len(sent.recorded)
            self._say(f"Sent {counted(count, 'sale')} rung up offline to the shop.")
        for sale in sent.refused:
            self.app.notify(
                f"The shop refused the sale {sale.receipt} rung up offline ({sale.problem}): "
                "its cash is in the drawer. F9 lists the refused sales to settle.",
                severity="error",
                timeout=15,
            )
        if isinstance(sent.stopped, CALL_ERRORS) and not isinstance(sent.stopped, LINK_ERRORS):
            end_if_signed_out(self, sent.stopped)
        self.show()
