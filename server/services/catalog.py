"""Browsing: categories, searchable pages of products, one product."""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any

import peewee as pw
from twisted.internet.defer import Deferred, succeed

from protocol.errors import NotFound
from protocol.excerpt import excerpt
from protocol.rules import STAFF_ROLES
from server import sql
from server.cursors import Cursors
from server.dbexec import Executor
from server.dispatch import Call
from server.services.product_cache import ProductCache
from server.wire import PRODUCT_COLUMNS, product


def not_found(kind: str, ident: Any) -> NotFound:
    """`ident` as the client sent it (a SKU is text): a short, printable excerpt of it."""
    shown = excerpt(ident) if isinstance(ident, str) else ident
    return NotFound(f"no {kind} {shown!r}", {"kind": kind, "id": shown})


class CatalogService:
    def __init__(self, dbx: Executor, cursors: Cursors, cache: ProductCache | None = None) -> None:
        self.dbx = dbx
        self.cursors = cursors
        self.cache = cache

    def load_cache(self) -> Deferred[int]:
        """Fill the product cache (if this server keeps one); returns how many products."""
        cache = self.cache
        if cache is None:
            return succeed(0)

        def fill(products: list[dict[str, Any]]) -> int:
            for item in products:
                cache.put(item)
            return len(products)

        return self.dbx.read(all_products).addCallback(fill)

    async def categories(self, call: Call) -> dict[str, Any]:
        items = await self.dbx.read(_categories)
        return {"items": items}

    async def list(self, call: Call) -> dict[str, Any]:
        args = call.args
        scope = _scope_key(args.get("category_id"), args.get("query") or "")
        after = self.cursors.decode(args["cursor"], scope, (str, int)) if "cursor" in args else None
        staff = call.identity.role in STAFF_ROLES
        found, total = await self.dbx.read(lambda db: _page(db, args, after, staff))
        page = found[: args["limit"]]
        more = len(found) > args["limit"]
        result: dict[str, Any] = {
            "items": [item for item, _ in page],
            "next_cursor": (
                self.cursors.encode(scope, page[-1][1], page[-1][0]["id"]) if more else None
            ),
        }
        if total is not None:
            result["total"] = total
        return result

    def get(self, call: Call) -> dict[str, Any] | Coroutine[Any, Any, dict[str, Any]]:
        """From the cache when it has the product: no Deferred, no coroutine."""
        args = call.args
        found = self.cache.get(args.get("product_id"), args.get("sku")) if self.cache else None
        if found is not None:
            return self._visible(call, found)
        return self._read(call)

    async def _read(self, call: Call) -> dict[str, Any]:
        args = call.args
        by, key = ("id", args["product_id"]) if "product_id" in args else ("sku", args["sku"])
        row = await self.dbx.read(
            lambda db: sql.one(db, f"SELECT {PRODUCT_COLUMNS} FROM products WHERE {by} = ?", (key,))
        )
        if row is None:
            raise not_found("product", key)
        found = product(row)
        if self.cache is not None:
            self.cache.put(found)
        return self._visible(call, found)

    def _visible(self, call: Call, found: dict[str, Any]) -> dict[str, Any]:
        """Archived products exist only for staff."""
        if found["archived"] and call.identity.role not in STAFF_ROLES:
            key = call.args.get("product_id", call.args.get("sku"))
            raise not_found("product", key)
        return found


def all_products(db: pw.Database) -> list[dict[str, Any]]:
    return [product(row) for row in sql.rows(db, f"SELECT {PRODUCT_COLUMNS} FROM products")]


def _categories(db: pw.Database) -> list[dict[str, Any]]:
    found = sql.rows(db, "SELECT id, name, parent_id FROM categories ORDER BY lower(name), id")
    children: dict[int | None, list[tuple[Any, ...]]] = {}
    for row in found:
        children.setdefault(row[2], []).append(row)
    ordered: list[dict[str, Any]] = []
    stack = list(reversed(children.get(None, [])))
    while stack:
        row = stack.pop()
        ordered.append({"id": row[0], "name": row[1], "parent_id": row[2]})
        stack.extend(reversed(children.get(row[0], [])))
    return ordered


def _descendants(db: pw.Database, category_id: int) -> list[int]:
    pairs = sql.rows(db, "SELECT id, parent_id FROM categories")
    known = {cid for cid, _ in pairs}
    if category_id not in known:
        raise not_found("category", category_id)
    found, frontier = {category_id}, [category_id]
    while frontier:
        parent = frontier.pop()
        for cid, pid in pairs:
            if pid == parent and cid not in found:
                found.add(cid)
                frontier.append(cid)
    return sorted(found)


def _page(
    db: pw.Database, args: dict[str, Any], after: tuple[str, int] | None, staff: bool
) -> tuple[list[tuple[dict[str, Any], str]], int | None]:
    """Products after the cursor, each with its sort key as the database lowercases it, and
    on the first page (no cursor) how many match in all: counted once per listing (and only
    when the page is full), so a client can say "41-90 of 399" without a count per page."""
    where: list[str] = [] if staff else ["NOT archived"]
    params: list[Any] = []
    if "category_id" in args:
        ids = _descendants(db, args["category_id"])
        where.append(f"category_id IN ({', '.join('?' * len(ids))})")
        params.extend(ids)
    for word in search_words(args.get("query") or ""):
        pattern = "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        where.append(
            "(lower(name) LIKE ? ESCAPE '\\' OR lower(sku) LIKE ? ESCAPE '\\' "
            "OR lower(description) LIKE ? ESCAPE '\\')"
        )
        params.extend([pattern] * 3)
    if after is not None:
        where.append("(lower(name) > ? OR (lower(name) = ? AND id > ?))")
        params.extend([after[0], after[0], after[1]])
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    found = sql.rows(
        db,
        f"SELECT {PRODUCT_COLUMNS}, lower(name) FROM products {clause} "
        "ORDER BY lower(name), id LIMIT ?",
        (*params, args["limit"] + 1),
    )
    total = None
    if after is None:
        total = len(found) if len(found) <= args["limit"] else _count(db, clause, params)
    return [(product(row), row[10]) for row in found], total


def search_words(query: str) -> list[str]:
    """The words of `query` a product must contain, lowercased: each once, and none that is
    part of another (which contains it), so a query of one word fifty times costs one."""
    words = set(query.lower().split())
    return sorted(w for w in words if not any(w in other and w != other for other in words))


def _count(db: pw.Database, clause: str, params: list[Any]) -> int:
    row = sql.one(db, f"SELECT count(*) FROM products {clause}", params)
    return int(row[0]) if row else 0


def _scope_key(category_id: int | None, query: str) -> str:
    """The listing a cursor belongs to (`server.cursors` digests it with the position)."""
    return f"{category_id}|{query.lower().split()}"
