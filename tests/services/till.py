"""A clerk's steps for the point-of-sale tests: the till's services, open, sell, read,
close; each step is sent on a connection of its own, as `ask` does."""

from __future__ import annotations

import json
from typing import Any

from twisted.internet.defer import Deferred

from db.models import User
from server import sql
from server.clock import Clock
from server.dispatch import Identity
from server.events import EventHub
from server.payments import FakeProvider
from server.services.orders import OrderService
from server.services.register import RegisterService
from server.services.sale import SaleService
from tests.services.inline_db import CURRENCY, InlineDatabase, ask
from tests.services.shopping import order_service

CASH = {"method": "cash"}


class Till:
    """The services a clerk's station talks to, on one database, hub and clock."""

    def __init__(
        self,
        dbx: InlineDatabase,
        hub: EventHub,
        clock: Clock,
        provider: FakeProvider | None = None,
    ) -> None:
        self.orders: OrderService = order_service(dbx, hub, clock, provider)
        self.sales = SaleService(dbx, hub, self.orders.checkouts, CURRENCY)
        self.registers = RegisterService(dbx)

    def open(self, clerk: Identity, opening_cash: int = 100_000) -> Deferred[dict[str, Any]]:
        return ask(
            self.registers.open,
            clerk,
            "clerk.register.open",
            station="kasir-1",
            opening_cash=opening_cash,
        )

    def close(self, clerk: Identity, counted_cash: int) -> Deferred[dict[str, Any]]:
        return ask(self.registers.close, clerk, "clerk.register.close", counted_cash=counted_cash)

    def get(self, clerk: Identity) -> Deferred[dict[str, Any]]:
        return ask(self.registers.get, clerk, "clerk.register.get")

    def sell(
        self,
        clerk: Identity,
        *lines: dict[str, Any],
        payment: dict[str, Any] = CASH,
        key: str = "sale-1",
    ) -> Deferred[dict[str, Any]]:
        return ask(
            self.sales.sale,
            clerk,
            "clerk.sale",
            lines=list(lines),
            payment=payment,
            idempotency_key=key,
        )


def line(product_id: int, qty: int = 1) -> dict[str, Any]:
    return {"product_id": product_id, "qty": qty}


def another_clerk(name: str = "dewi") -> Identity:
    user = User.create(username=name, password_hash="x", role="clerk")
    return Identity(user.id, user.username, user.role, session_id=0)


def audited(dbx: InlineDatabase, action: str) -> list[tuple[int, str, dict[str, Any]]]:
    """The audit rows of `action`: who, on what, with which details."""
    rows = sql.rows(
        dbx.db,
        "SELECT user_id, target, details FROM audit_log WHERE action = ? ORDER BY id",
        (action,),
    )
    return [(user_id, target, json.loads(details)) for user_id, target, details in rows]
