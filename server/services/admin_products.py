"""The catalog kept by admins: `admin.product.create`, `.update`, `.archive` and `.restore`.

Each op is one write job that changes the product and writes its audit entry in the same
transaction. A new, archived or restored product is a `stock` event (PROTOCOL.md section
13): the event goes out after the commit through the hub, and on PostgreSQL the job also
announces it (`announce_stock`) so the other servers send it too. Archiving and restoring
move the product's `version` on, so a client holding the product's last version takes the
event, and reads the product again to learn whether it is still for sale.

On SQLite the server keeps a product cache (`ProductCache`); each op puts the product it
returns there, so `catalog.get` shows a new name, price or archived flag at once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import peewee as pw

from db.audit_entry import target_of
from protocol.errors import Conflict
from protocol.ops import Op
from server import sql
from server.audit import audit
from server.dbexec import Executor
from server.dispatch import Call
from server.events import EventHub, StockChange
from server.pg_events import announce_stock
from server.services.catalog import not_found
from server.services.product_cache import ProductCache
from server.wire import PRODUCT_COLUMNS, product
from server.write_jobs import write_job

EDITABLE = ("name", "description", "category_id", "price")
SKU_SHOWN = 64  # the most of a taken sku a message repeats (the op's own bound)


class AdminProductService:
    def __init__(
        self, dbx: Executor, hub: EventHub, currency: str, cache: ProductCache | None
    ) -> None:
        self.dbx = dbx
        self.hub = hub
        self.currency = currency
        self.cache = cache

    async def create(self, call: Call) -> dict[str, Any]:
        args = call.args
        fields = {name: args[name] for name in ("sku", "description", "stock", *EDITABLE)}
        return await self._run(create_product, call.identity.user_id, fields, self.currency)

    async def update(self, call: Call) -> dict[str, Any]:
        args = call.args
        changes = {name: args[name] for name in EDITABLE if name in args}
        return await self._run(update_product, call.identity.user_id, args["product_id"], changes)

    async def archive(self, call: Call) -> dict[str, Any]:
        return await self._set_archived(call, True)

    async def restore(self, call: Call) -> dict[str, Any]:
        return await self._set_archived(call, False)

    async def _set_archived(self, call: Call, archived: bool) -> dict[str, Any]:
        user_id, product_id = call.identity.user_id, call.args["product_id"]
        return await self._run(set_archived, user_id, product_id, archived, str(call.op))

    async def _run(self, job: Callable[..., Any], *args: Any) -> dict[str, Any]:
        """Run the write job; after the commit, refresh the cache and publish its change."""
        found, changes = await self.dbx.write(job, *args)
        if self.cache is not None:
            self.cache.refresh(found)
        self.hub.publish_stock(changes)
        return found


@write_job
def create_product(
    db: pw.Database, user_id: int, fields: dict[str, Any], currency: str
) -> tuple[dict[str, Any], list[StockChange]]:
    """A new product (version 1), audited; its stock is announced to every server."""
    now = sql.now()
    _require_category(db, fields["category_id"])
    try:
        with db.atomic():  # a savepoint: a taken sku fails this insert alone
            row = sql.one(
                db,
                "INSERT INTO products (sku, name, description, category_id, price, currency, "
                "stock, initial_stock, version, archived, created_at, updated_at) "
                f"VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?) RETURNING {PRODUCT_COLUMNS}",
                (
                    fields["sku"],
                    fields["name"],
                    fields["description"],
                    fields["category_id"],
                    fields["price"],
                    currency,
                    fields["stock"],
                    fields["stock"],
                    False,
                    now,
                    now,
                ),
            )
    except pw.IntegrityError:
        raise _sku_taken(fields["sku"]) from None
    assert row is not None  # an INSERT ... RETURNING gives its row
    created = product(row)
    target = target_of("product", created["id"])
    audit(db, user_id, str(Op.ADMIN_PRODUCT_CREATE), target, fields, now)
    return created, [_announced(db, created)]


@write_job
def update_product(
    db: pw.Database, user_id: int, product_id: int, changes: dict[str, Any]
) -> tuple[dict[str, Any], list[StockChange]]:
    """Change the given fields, audited with each changed field's old and new value. Stock
    and version stay, so no event is sent."""
    now = sql.now()
    before = _product(db, product_id)
    if "category_id" in changes:
        _require_category(db, changes["category_id"])
    moved = {name: value for name, value in changes.items() if before[name] != value}
    if moved:
        assignments = ", ".join(f"{name} = ?" for name in moved)
        sql.execute(
            db,
            f"UPDATE products SET {assignments}, updated_at = ? WHERE id = ?",
            (*moved.values(), now, product_id),
        )
    details = {name: [before[name], value] for name, value in moved.items()}
    audit(db, user_id, str(Op.ADMIN_PRODUCT_UPDATE), target_of("product", product_id), details, now)
    return {**before, **moved}, []


@write_job
def set_archived(
    db: pw.Database, user_id: int, product_id: int, archived: bool, op: str
) -> tuple[dict[str, Any], list[StockChange]]:
    """Archive or restore (`op`) a product, audited. A change of state moves its version on
    and is announced; the same state again changes nothing and sends nothing."""
    now = sql.now()
    before = _product(db, product_id)
    changed = before["archived"] != archived
    found = before
    if changed:
        row = sql.one(
            db,
            "UPDATE products SET archived = ?, version = version + 1, updated_at = ? "
            f"WHERE id = ? RETURNING {PRODUCT_COLUMNS}",
            (archived, now, product_id),
        )
        assert row is not None  # the row was just read in this transaction
        found = product(row)
    audit(db, user_id, op, target_of("product", product_id), {"changed": changed}, now)
    return found, [_announced(db, found)] if changed else []


def _product(db: pw.Database, product_id: int) -> dict[str, Any]:
    row = sql.one(db, f"SELECT {PRODUCT_COLUMNS} FROM products WHERE id = ?", (product_id,))
    if row is None:
        raise not_found("product", product_id)
    return product(row)


def _require_category(db: pw.Database, category_id: int) -> None:
    if sql.one(db, "SELECT 1 FROM categories WHERE id = ?", (category_id,)) is None:
        raise not_found("category", category_id)


def _sku_taken(sku: str) -> Conflict:
    return Conflict(
        f"the sku '{sku[:SKU_SHOWN]}' is taken (archived products keep theirs): choose another",
        {"field": "sku"},
    )


def _announced(db: pw.Database, found: dict[str, Any]) -> StockChange:
    change = StockChange(found["id"], found["stock"], found["version"])
    announce_stock(db, change)
    return change
