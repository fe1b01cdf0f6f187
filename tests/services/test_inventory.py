"""`clerk.restock` and `clerk.adjust` in process: the stock path, its movement and audit rows,
the stock event after the commit, the roles, and repeats under an idempotency key."""

from __future__ import annotations

import json
from typing import Any

import pytest

from db.models import AuditLog, IdempotencyKey, Product, StockMovement, User
from protocol.errors import ErrorCode
from server.dispatch import Identity
from server.events import EventHub
from server.services.inventory import InventoryService
from tests.services.inline_db import InlineDatabase, Recorder, Shop, ask, error, result


@pytest.fixture
def inventory(dbx: InlineDatabase, hub: EventHub) -> InventoryService:
    return InventoryService(dbx, hub)


def restock(inventory: InventoryService, who: Identity | None, **args: Any) -> Any:
    return ask(inventory.restock, who, "clerk.restock", **args)


def adjust(inventory: InventoryService, who: Identity | None, **args: Any) -> Any:
    return ask(inventory.adjust, who, "clerk.adjust", **args)


def subscribed(hub: EventHub, who: Identity, product_id: int) -> Recorder:
    conn = Recorder(identity=who)
    hub.subscribe(conn, [product_id])
    return conn


def movements(product_id: int) -> list[tuple[str, int, int, int | None, str | None]]:
    found = StockMovement.select().where(StockMovement.product == product_id).order_by("id")
    return [(m.kind, m.delta, m.stock_after, m.user_id, m.reason) for m in found]


def audited() -> list[tuple[int | None, str, str | None, dict[str, Any]]]:
    return [
        (a.user_id, a.action, a.target, json.loads(a.details))
        for a in AuditLog.select().order_by(AuditLog.id)
    ]


def test_a_restock_moves_the_stock_records_it_and_tells_subscribers(
    mini_shop: Shop, inventory: InventoryService, hub: EventHub
) -> None:
    ani = subscribed(hub, mini_shop.ani, mini_shop.teh)
    clerk = mini_shop.clerk

    product = result(restock(inventory, clerk, product_id=mini_shop.teh, qty=12, reason="SJ-0042"))

    assert (product["id"], product["stock"], product["version"]) == (mini_shop.teh, 15, 2)
    assert product["sku"] == "TEH-1"
    assert ani.of("stock") == [{"product_id": mini_shop.teh, "stock": 15, "version": 2}]
    assert movements(mini_shop.teh) == [("restock", 12, 15, clerk.user_id, "SJ-0042")]
    assert audited() == [
        (
            clerk.user_id,
            "clerk.restock",
            f"product:{mini_shop.teh}",
            {"delta": 12, "reason": "SJ-0042", "stock": 15},
        )
    ]


def test_an_adjustment_down_is_recorded_as_one(
    mini_shop: Shop, inventory: InventoryService, hub: EventHub
) -> None:
    product = result(
        adjust(inventory, mini_shop.clerk, product_id=mini_shop.kopi, delta=-2, reason="rusak")
    )
    assert product["stock"] == 3
    assert movements(mini_shop.kopi) == [("adjustment", -2, 3, mini_shop.clerk.user_id, "rusak")]
    assert [action for _, action, _, _ in audited()] == ["clerk.adjust"]


@pytest.mark.parametrize("key", [None, "count-1"])
def test_an_adjustment_below_zero_changes_nothing(
    mini_shop: Shop, inventory: InventoryService, hub: EventHub, key: str | None
) -> None:
    ani = subscribed(hub, mini_shop.ani, mini_shop.teh)
    extra = {} if key is None else {"idempotency_key": key}

    refused = error(
        adjust(
            inventory, mini_shop.clerk, product_id=mini_shop.teh, delta=-4, reason="hilang", **extra
        )
    )

    assert refused.code == ErrorCode.OUT_OF_STOCK
    assert refused.details == {"product_id": mini_shop.teh, "requested": 4, "available": 3}
    assert (Product.get_by_id(mini_shop.teh).stock, Product.get_by_id(mini_shop.teh).version) == (
        3,
        1,
    )
    assert movements(mini_shop.teh) == [] and audited() == [] and ani.events == []
    assert IdempotencyKey.select().count() == 0, "the key stays unused"


def test_an_unknown_product_is_not_found(mini_shop: Shop, inventory: InventoryService) -> None:
    refused = error(restock(inventory, mini_shop.clerk, product_id=999, qty=1, reason="x"))
    assert (refused.code, refused.details) == (ErrorCode.NOT_FOUND, {"kind": "product", "id": 999})
    assert audited() == []


@pytest.mark.parametrize("op", ["restock", "adjust"])
def test_customers_and_strangers_are_refused(
    mini_shop: Shop, inventory: InventoryService, op: str
) -> None:
    args = {"product_id": mini_shop.teh, "reason": "x"}
    args |= {"qty": 5} if op == "restock" else {"delta": 5}
    call = restock if op == "restock" else adjust
    assert error(call(inventory, mini_shop.ani, **args)).code == ErrorCode.FORBIDDEN
    assert error(call(inventory, None, **args)).code == ErrorCode.UNAUTHENTICATED
    assert Product.get_by_id(mini_shop.teh).stock == 3
    assert movements(mini_shop.teh) == [] and audited() == []


def test_a_repeat_under_one_key_gives_the_first_result_and_applies_once(
    mini_shop: Shop, inventory: InventoryService, hub: EventHub, dbx: InlineDatabase
) -> None:
    ani = subscribed(hub, mini_shop.ani, mini_shop.teh)
    args = {"product_id": mini_shop.teh, "qty": 6, "reason": "SJ-7", "idempotency_key": "sj-7"}

    first = result(restock(inventory, mini_shop.clerk, **args))
    again = result(restock(inventory, mini_shop.clerk, **dict(reversed(args.items()))))

    assert again == first
    assert Product.get_by_id(mini_shop.teh).stock == 9
    assert movements(mini_shop.teh) == [("restock", 6, 9, mini_shop.clerk.user_id, "SJ-7")]
    assert len(audited()) == 1
    assert ani.of("stock") == [{"product_id": mini_shop.teh, "stock": 9, "version": 2}]
    assert dbx.writes == 2, "the repeat is answered from the key, in one write job"


@pytest.mark.parametrize(
    "op, args",
    [
        ("restock", {"qty": 7, "reason": "SJ-7"}),  # other arguments
        ("adjust", {"delta": 6, "reason": "SJ-7"}),  # another op
    ],
)
def test_a_key_reused_otherwise_is_a_conflict(
    mini_shop: Shop, inventory: InventoryService, op: str, args: dict[str, Any]
) -> None:
    first = {"product_id": mini_shop.teh, "qty": 6, "reason": "SJ-7", "idempotency_key": "sj-7"}
    result(restock(inventory, mini_shop.clerk, **first))
    call = restock if op == "restock" else adjust
    reused = error(
        call(inventory, mini_shop.clerk, product_id=mini_shop.teh, idempotency_key="sj-7", **args)
    )
    assert (reused.code, reused.details) == (ErrorCode.CONFLICT, {"field": "idempotency_key"})
    assert Product.get_by_id(mini_shop.teh).stock == 9


def test_an_admin_may_and_keys_belong_to_their_user(
    mini_shop: Shop, inventory: InventoryService
) -> None:
    admin = User.create(username="bos", password_hash="x", role="admin")
    boss = Identity(admin.id, admin.username, admin.role, session_id=0)
    args = {"product_id": mini_shop.teh, "qty": 6, "reason": "SJ-7", "idempotency_key": "sj-7"}
    result(restock(inventory, mini_shop.clerk, **args))
    assert result(restock(inventory, boss, **args))["stock"] == 15, "the admin's own key"
