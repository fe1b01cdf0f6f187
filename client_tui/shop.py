"""One signed-in session: the SDK client, who is signed in, the shop, and the calls the
screens make. Every method is a coroutine run from a Textual worker, never on a handler's
path; what changes shared state (the cart, stock levels) is posted back as a message."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any, NamedTuple

from textual.message import Message

from client_tui.errors import quiet_link
from client_tui.messages import CartChanged, StockChanged
from client_tui.money import Money
from client_tui.offline_queue import OfflineQueue, QueuedSale, Sent, send_queued
from client_tui.stock import Level, StockBook
from client_tui.till import Till, TillStatus
from client_tui.watch import StockWatch
from protocol.client import AsyncClient, State
from protocol.errors import InvalidState, NotFound, Unauthenticated
from protocol.ops import Op
from protocol.rules import STAFF_ROLES

PRODUCT_PAGE = 50
ORDER_PAGE = 20
EMPTY_CART: dict[str, Any] = {"items": [], "total": 0, "count": 0}


class Page(NamedTuple):
    """One page of a listing; `total` (how many match in all) comes with a first page."""

    items: list[dict[str, Any]]
    next_cursor: str | None
    total: int | None


class Shop:
    def __init__(
        self,
        client: AsyncClient,
        user: dict[str, Any],
        post: Callable[[Message], Any],
        *,
        offline: OfflineQueue | None = None,
        owner: str = "",
        hello: dict[str, Any] | None = None,
        offline_off: str = "",
        keeps_files: bool = True,
    ) -> None:
        """`offline`: a clerk's queue of sales rung up offline, theirs under `owner`
        (`offline_queue.owner_of`); `offline_off`: why a clerk's till has none (the banner
        says it while the server is away); `hello`: the server's hello as last known, for a
        till started while the server is away; `keeps_files` False: no file is saved on
        this machine (a browser tab's machine is the web host, shared by every tab)."""
        self.client = client
        self.user = user
        self._post = post
        self.offline = offline
        self.offline_off = offline_off
        self.keeps_files = keeps_files
        self.owner = owner
        self.hello = hello if hello is not None else client.hello
        shop = self.hello.get("shop") or {}
        self.name: str = shop.get("name", "warung")
        self.money = Money(shop.get("currency", "IDR"), int(shop.get("currency_exponent", 2)))
        self.book = StockBook()
        self.cart: dict[str, Any] = dict(EMPTY_CART, currency=self.money.currency)
        self.watch = StockWatch(client, self._took_levels)
        self.till = Till()

    @property
    def role(self) -> str:
        return str(self.user.get("role", "customer"))

    @property
    def online(self) -> bool:
        """The server answers now (else a clerk's cash sales go to the offline queue)."""
        return self.client.state == State.CONNECTED

    @property
    def is_customer(self) -> bool:
        return self.role == "customer"

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF_ROLES

    # -- catalog

    async def categories(self) -> list[dict[str, Any]]:
        return (await self.client.call(Op.CATALOG_CATEGORIES))["items"]

    async def products(
        self, query: str = "", category_id: int | None = None, cursor: str | None = None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """One page of products, in the server's order (name, then id)."""
        page = await self.product_page(query, category_id, cursor)
        return page.items, page.next_cursor

    async def product_page(
        self,
        query: str = "",
        category_id: int | None = None,
        cursor: str | None = None,
        limit: int = PRODUCT_PAGE,
    ) -> Page:
        """`products`, with the count of the whole listing on its first page."""
        args: dict[str, Any] = {"limit": limit}
        if query.strip():
            args["query"] = query.strip()[:100]
        if category_id is not None:
            args["category_id"] = category_id
        if cursor is not None:
            args["cursor"] = cursor
        result = await self.client.call(Op.CATALOG_LIST, args)
        self.book.seed(result["items"])
        self.remember_products(result["items"])
        return Page(result["items"], result.get("next_cursor"), result.get("total"))

    async def product(self, product_id: int) -> dict[str, Any]:
        product = await self.client.call(Op.CATALOG_GET, product_id=product_id)
        self.book.seed([product])
        return product

    # -- cart (customers only)

    async def load_cart(self) -> dict[str, Any]:
        return await self._cart_op(Op.CART_GET)

    async def add(self, product_id: int, qty: int = 1) -> dict[str, Any]:
        return await self._cart_op(Op.CART_ADD, product_id=product_id, qty=qty)

    async def set_qty(self, product_id: int, qty: int) -> dict[str, Any]:
        return await self._cart_op(Op.CART_SET, product_id=product_id, qty=qty)

    async def remove(self, product_id: int) -> dict[str, Any]:
        return await self._cart_op(Op.CART_REMOVE, product_id=product_id)

    async def _cart_op(self, op: str, **args: Any) -> dict[str, Any]:
        cart = await self.client.call(op, args)
        self.cart = cart
        self._post(CartChanged(cart))
        with quiet_link(self._post, "Live stock of the cart"):
            await self.watch.want("cart", [line["product_id"] for line in cart["items"]])
        return cart

    async def checkout(
        self, method: str, token: str, idempotency_key: str, total: int
    ) -> dict[str, Any]:
        """Buy the cart for `total`, the amount the customer agreed to (the server refuses a
        cart that costs another). The SDK repeats the call with the same key if the link
        drops."""
        payment = {"method": method, "token": token}
        order = await self.client.checkout(payment, idempotency_key, expected_total=total)
        with quiet_link(self._post, "Cart"):  # the order is placed; its cart lines are gone
            await self.load_cart()
        return order

    # -- orders

    async def orders(
        self, cursor: str | None = None, status: str | None = None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """A page of orders, newest first; `status`: only those in it."""
        args: dict[str, Any] = {"limit": ORDER_PAGE}
        if cursor is not None:
            args["cursor"] = cursor
        if status is not None:
            args["status"] = status
        result = await self.client.call(Op.ORDER_LIST, args)
        return result["items"], result.get("next_cursor")

    async def subscribe_orders(
        self, cursor: str | None = None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Staff: a page of the paid online orders waiting, oldest first; from the first
        page on, an `order` event comes for every online order's change (the SDK subscribes
        again after a reconnect)."""
        if cursor is None:
            page = await self.client.subscribe_orders(limit=ORDER_PAGE)
        else:
            page = await self.client.call(Op.ORDER_SUBSCRIBE, cursor=cursor, limit=ORDER_PAGE)
        return page["items"], page.get("next_cursor")

    async def order(self, order_id: int) -> dict[str, Any]:
        return await self.client.call(Op.ORDER_GET, order_id=order_id)

    async def cancel(self, order_id: int) -> dict[str, Any]:
        return await self.client.call(Op.ORDER_CANCEL, order_id=order_id)

    async def ship(self, order_id: int, tracking: str = "") -> dict[str, Any]:
        """Mark shipped, with the carrier's tracking reference when there is one."""
        args: dict[str, Any] = {"order_id": order_id}
        if tracking:
            args["tracking"] = tracking
        return await self.client.call(Op.ORDER_SHIP, args)

    async def deliver(self, order_id: int) -> dict[str, Any]:
        return await self.client.call(Op.ORDER_DELIVER, order_id=order_id)

    # -- the till (clerks only)

    async def product_by_sku(self, sku: str) -> dict[str, Any] | None:
        """The product with exactly this SKU (staff see archived ones too), or None."""
        try:
            product = await self.client.call(Op.CATALOG_GET, sku=sku)
        except NotFound:
            return None
        self.book.seed([product])
        self.remember_products([product])
        return product

    async def open_till(self, station: str, opening_cash: int) -> dict[str, Any] | None:
        """Open a register at `station`; None when one was open already (the till then
        holds that one, read from the server)."""
        try:
            register = await self.client.call(
                Op.CLERK_REGISTER_OPEN, station=station, opening_cash=opening_cash
            )
        except InvalidState as error:
            if error.details.get("reason") != "register_already_open":
                raise
            await self.read_till()
            return None
        self.till.opened(register)
        self.keep_profile()
        return register

    async def read_till(self) -> dict[str, Any] | None:
        """The clerk's open register with the server's `expected_cash` and `by_method` as
        they stand now, or None when none is open."""
        try:
            register = await self.client.call(Op.CLERK_REGISTER_GET)
        except InvalidState as error:
            if error.details.get("reason") != "no_open_register":
                raise
            self.till.closed()
            self.keep_profile()
            return None
        self.till.opened(register)
        self.keep_profile()
        return register

    async def close_till(self, counted_cash: int) -> dict[str, Any]:
        register = await self.client.call(Op.CLERK_REGISTER_CLOSE, counted_cash=counted_cash)
        self.till.closed()
        self.keep_profile()
        return register

    async def sell(
        self, lines: list[dict[str, int]], payment: dict[str, Any], idempotency_key: str, total: int
    ) -> dict[str, Any]:
        """Ring up a sale for `total`, the amount the till showed (the server refuses lines
        that cost another), sent again with its key when the link drops meanwhile: charged
        once."""
        args = {"lines": lines, "payment": payment, "expected_total": total}
        return await self.client.call_keyed(Op.CLERK_SALE, args, idempotency_key)

    # -- selling offline (clerks only; `offline_queue`)

    def keep_profile(self) -> None:
        """Keep what a till started offline needs: the shop, the clerk, the open till."""
        if self.offline is None:
            return
        till = self.till
        self.offline.remember_profile(
            self.owner,
            {
                "hello": {"shop": self.hello.get("shop") or {}},
                "user": {k: self.user.get(k) for k in ("id", "username", "role")},
                "till": {"station": till.station, "opening_cash": till.opening_cash}
                if till.status == TillStatus.OPEN
                else None,
            },
        )

    def remember_products(self, products: list[dict[str, Any]]) -> None:
        """The till sells these at their last known price when the server is away: every
        product a clerk's screens listed or looked up."""
        if self.offline is not None:
            self.offline.remember_products(self.owner, products)

    def known_products(self, text: str) -> list[dict[str, Any]]:
        """Products last seen at this till by SKU, else by name (marked `last_known`)."""
        if self.offline is None:
            return []
        products = self.offline.known_products(self.owner, text)
        for product in products:  # a stock push seen since is newer than the file
            product["stock"] = self.book.stock(product["id"], product["stock"])
        return products

    def ring_up_offline(self, lines: list[dict[str, int]], tendered: int | None) -> QueuedSale:
        """A cash sale queued on the disk with its key and receipt number (committed when
        this returns); sent when the server answers again."""
        assert self.offline is not None
        sale = self.offline.ring_up(self.owner, lines, tendered)
        for line in lines:  # the file's last known stock was lowered with the sale
            self.book.lower(line["product_id"], line["qty"])
        return sale

    def queued_count(self) -> int:
        return self.offline.count_queued(self.owner) if self.offline is not None else 0

    def refused_count(self) -> int:
        return self.offline.count_refused(self.owner) if self.offline is not None else 0

    def refused_sales(self) -> list[QueuedSale]:
        """The sales rung up offline that the server refused for good, oldest first."""
        return self.offline.refused(self.owner) if self.offline is not None else []

    def dismiss_refused(self, sale: QueuedSale) -> bool:
        assert self.offline is not None
        return self.offline.dismiss_refused(self.owner, sale.idempotency_key)

    def known_names(self) -> dict[int, str]:
        return self.offline.product_names(self.owner) if self.offline is not None else {}

    async def send_queued(self) -> Sent:
        """Send the sales rung up offline, oldest first (`offline_queue.send_queued`)."""
        assert self.offline is not None

        async def send(sale: QueuedSale) -> dict[str, Any]:
            args = {**sale.arguments(), "idempotency_key": sale.idempotency_key}
            return await self.client.call(Op.CLERK_SALE, args)

        return await send_queued(self.offline, self.owner, send)

    async def refund(
        self, order_id: int, lines: dict[int, int], reason: str, key: str, *, restock: bool
    ) -> dict[str, Any]:
        """Refund `lines` (product id: units) of an order, putting the units back on sale
        or not (`restock`); the order comes back. Sent again with `key` when the link drops
        meanwhile: refunded once."""
        return await self.client.call_keyed(
            Op.CLERK_REFUND,
            {
                "order_id": order_id,
                "lines": [{"product_id": pid, "qty": qty} for pid, qty in lines.items()],
                "reason": reason,
                **({} if restock else {"restock": False}),  # a server before it knows no such
            },
            key,
        )

    # -- stock (staff)

    async def restock(self, product_id: int, qty: int, reason: str, key: str) -> dict[str, Any]:
        """Receive `qty` units; the product comes back with its new stock. Sent again with
        `key` when the link drops meanwhile: added once."""
        product = await self.client.call_keyed(
            Op.CLERK_RESTOCK, {"product_id": product_id, "qty": qty, "reason": reason}, key
        )
        return self._took_product(product)

    async def adjust(self, product_id: int, delta: int, reason: str, key: str) -> dict[str, Any]:
        """Correct stock by `delta` units (negative: taken away); `key` as for `restock`."""
        product = await self.client.call_keyed(
            Op.CLERK_ADJUST, {"product_id": product_id, "delta": delta, "reason": reason}, key
        )
        return self._took_product(product)

    async def shortfalls(self) -> dict[str, Any]:
        """The open shortfalls, oldest first, and how many are open in all."""
        return await self.client.call(Op.CLERK_SHORTFALL_LIST, {"limit": 500})

    async def resolve_shortfall(
        self, shortfall_id: int, delta: int, reason: str, key: str
    ) -> dict[str, Any]:
        """Resolve a shortfall with `reason`, correcting the stock by `delta` (0: none);
        `key` as for `restock`. The stock shown moves at once."""
        args = {"shortfall_id": shortfall_id, "delta": delta, "reason": reason}
        resolved = await self.client.call_keyed(Op.CLERK_SHORTFALL_RESOLVE, args, key)
        if delta:
            await self.product(resolved["product_id"])
        return resolved

    def _took_product(self, product: dict[str, Any]) -> dict[str, Any]:
        """The screens show the new level at once, not only when its push arrives."""
        self._took_levels({product["id"]: Level(product["stock"], product["version"])})
        return product

    # -- the catalog kept by admins

    async def create_product(self, fields: dict[str, Any]) -> dict[str, Any]:
        """A new product from `fields` (`sku`, `name`, `description`, `category_id`, `price`,
        `stock`). Not repeated after a lost link: trying again answers that the SKU is
        taken when the first one went through."""
        return self._took_product(await self.client.call(Op.ADMIN_PRODUCT_CREATE, fields))

    async def update_product(self, product_id: int, changes: dict[str, Any]) -> dict[str, Any]:
        """Change some of `name`, `description`, `category_id`, `price`."""
        return await self.client.call(
            Op.ADMIN_PRODUCT_UPDATE, {"product_id": product_id, **changes}
        )

    async def archive_product(self, product_id: int) -> dict[str, Any]:
        return self._took_product(
            await self.client.call(Op.ADMIN_PRODUCT_ARCHIVE, product_id=product_id)
        )

    async def restore_product(self, product_id: int) -> dict[str, Any]:
        return self._took_product(
            await self.client.call(Op.ADMIN_PRODUCT_RESTORE, product_id=product_id)
        )

    # -- two-factor sign-in

    async def totp_enroll(self, password: str) -> dict[str, Any]:
        """A new TOTP secret (`secret`, `uri`); two-factor sign-in is on after `totp_confirm`."""
        return await self.client.call(Op.AUTH_TOTP_ENROLL, password=password)

    async def totp_confirm(self, password: str, code: str) -> list[str]:
        """Two-factor sign-in on; its recovery codes, which the server shows only this once."""
        confirmed = await self.client.call(Op.AUTH_TOTP_CONFIRM, password=password, code=code)
        return list(confirmed["recovery_codes"])

    # -- the account's password and sessions

    async def change_password(self, password: str, new_password: str) -> None:
        """The account's other sessions end; this one goes on."""
        await self.client.call(
            Op.AUTH_PASSWORD_CHANGE, password=password, new_password=new_password
        )

    async def sessions(self) -> list[dict[str, Any]]:
        """The account's live sessions, newest first; `current` marks this one."""
        return list((await self.client.call(Op.AUTH_SESSION_LIST))["sessions"])

    async def sign_out_everywhere(self) -> None:
        """Every session of the account ends, this one too: the server says so with a
        `session.ended` push, which brings back the sign-in screen."""
        await self.client.call(Op.AUTH_LOGOUT, everywhere=True)

    # -- the end

    async def sign_out(self) -> None:
        """End the session on the server when it can be reached, then close the link.
        A session the server has ended already is what signing out wants."""
        with quiet_link(self._post, "Signing out"), contextlib.suppress(Unauthenticated):
            await asyncio.wait_for(self.client.logout(), 2.0)
        await self.client.close()
        offline, self.offline = self.offline, None  # the till's banner asks until it goes
        if offline is not None:
            offline.close()

    def _took_levels(self, levels: dict[int, Level]) -> None:
        if levels:
            self._post(StockChanged(levels))
