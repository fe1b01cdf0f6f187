"""Import products from CSV: every row is checked first, then all are written, or none.

Format (UTF-8, comma-separated, first row the header, columns in any order):
`sku,name,description,category,price,stock[,currency]`. `category` is a path such as
`Makanan > Mie Instan` (missing categories are created); `price` is in the currency's major unit
with at most `currency_exponent` decimals written, zeros too (`3500` or `3500.00` is Rp 3.500;
`3.500` is refused); `stock` a whole number; `currency`, if present, must be the shop's. A SKU
that exists is updated: a different stock becomes an `adjustment` movement with reason `import`,
so conservation holds. The running servers hear of every new product and every changed stock in
the same transaction (`db.change_notice`), and send them to their clients as `stock` events.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import peewee as pw

from db.change_notice import announce_products
from db.models import (
    AuditLog,
    Category,
    Product,
    Setting,
    StockMovement,
    require_bound,
    utcnow,
)
from db.transactions import write_transaction

REQUIRED = ("sku", "name", "description", "category", "price", "stock")
OPTIONAL = ("currency",)
SKU_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$")
PRICE_RE = re.compile(r"(\d+)(?:\.(\d+))?")  # whole units, then the decimals as written
MAX_NAME, MAX_DESCRIPTION, MAX_CATEGORY = 200, 2000, 100
MAX_STOCK = 2**31 - 1
MAX_PRICE_MINOR = 10**15


@dataclass(frozen=True)
class RowProblem:
    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


class ImportFailed(Exception):
    """The file has problems; nothing was imported. `problems` lists every one."""

    def __init__(self, problems: list[RowProblem]) -> None:
        self.problems = problems
        listed = "\n".join(f"  {p}" for p in problems)
        super().__init__(f"{len(problems)} problem(s), nothing imported:\n{listed}")


@dataclass(frozen=True)
class ImportResult:
    created: int
    updated: int
    unchanged: int
    adjusted: int  # updated products whose stock changed (one movement each)


@dataclass(frozen=True)
class ProductRow:
    """One valid CSV row; `price` in minor units, `category` a path from the top."""

    sku: str
    name: str
    description: str
    category: tuple[str, ...]
    price: int
    stock: int


def import_products(db: pw.Database, path: str | Path) -> ImportResult:
    """Import the CSV file at `path` into `db` (the models must be bound to it).

    Raises `ImportFailed` listing every bad row (with its line number), having changed nothing,
    and `OSError` when the file cannot be read.
    """
    require_bound(db)
    currency = Setting.get_by_id("currency").value
    exponent = int(Setting.get_by_id("currency_exponent").value)
    raw = Path(path).read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ImportFailed([RowProblem(line, "the file is not UTF-8 text")]) from None
    rows = parse_products(text, currency, exponent)
    with write_transaction(db):
        result, announced = _apply(rows, currency, _lock_existing(db, [row.sku for row in rows]))
        if result.created or result.updated:
            announce_products(db, announced)
        AuditLog.create(
            action="products.import",
            target=str(path),
            details=json.dumps(result.__dict__),
        )
    return result


def parse_products(text: str, currency: str, exponent: int) -> list[ProductRow]:
    """Check every row of `text`; return them all, or raise `ImportFailed` with every problem."""
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""))
    problems: list[RowProblem] = []
    rows: list[ProductRow] = []
    header: list[str] | None = None
    first_line: dict[str, int] = {}
    line = 1
    for record in _records(reader, problems):
        start, line = line, reader.line_num + 1
        if not any(field.strip() for field in record):
            continue
        if header is None:
            header = [name.strip().lower() for name in record]
            problems += _header_problems(header, start)
            if problems:
                break
            continue
        if len(record) != len(header):
            problems.append(
                RowProblem(start, f"expected {len(header)} fields, found {len(record)}")
            )
            continue
        fields = dict(zip(header, record, strict=True))
        row, reasons = _check_row(fields, currency, exponent)
        sku = fields["sku"].strip()
        if sku and sku in first_line:
            reasons.append(f"sku {sku!r} already appears on line {first_line[sku]}")
        first_line.setdefault(sku, start)
        problems += [RowProblem(start, reason) for reason in reasons]
        if row and not reasons:
            rows.append(row)
    if header is None:
        problems.append(RowProblem(1, "the file is empty: expected a header row"))
    elif not problems and not rows:
        problems.append(RowProblem(line, "the file has a header but no products"))
    if problems:
        raise ImportFailed(problems)
    return rows


def _records(reader: Any, problems: list[RowProblem]) -> Iterator[list[str]]:
    """The reader's records; a CSV syntax error becomes a problem and ends the file."""
    try:
        yield from reader
    except csv.Error as exc:
        problems.append(RowProblem(reader.line_num, f"not readable as CSV: {exc}"))


def _header_problems(header: list[str], line: int) -> list[RowProblem]:
    expected = ",".join(REQUIRED) + "[," + ",".join(OPTIONAL) + "]"
    reasons = []
    missing = [c for c in REQUIRED if c not in header]
    unknown = [c for c in header if c not in REQUIRED + OPTIONAL]
    repeated = sorted({c for c in header if header.count(c) > 1})
    if missing:
        reasons.append(f"header lacks {', '.join(missing)}")
    if unknown:
        reasons.append(f"header has unknown column(s) {', '.join(repr(c) for c in unknown)}")
    if repeated:
        reasons.append(f"header repeats {', '.join(repeated)}")
    return [RowProblem(line, f"{reason} (expected {expected})") for reason in reasons]


def _check_row(
    fields: dict[str, str], currency: str, exponent: int
) -> tuple[ProductRow | None, list[str]]:
    reasons = []
    sku = fields["sku"].strip()
    if not SKU_RE.match(sku):
        reasons.append(
            f"sku {sku!r} must be 1 to 64 letters, digits, '.', '_', '/' or '-', "
            "starting with a letter or digit"
        )
    name = fields["name"].strip()
    if not name or len(name) > MAX_NAME:
        reasons.append(f"name must be 1 to {MAX_NAME} characters")
    description = fields["description"].strip()
    if len(description) > MAX_DESCRIPTION:
        reasons.append(f"description is longer than {MAX_DESCRIPTION} characters")
    category = tuple(part.strip() for part in fields["category"].split(">"))
    if not all(category) or any(len(part) > MAX_CATEGORY for part in category):
        reasons.append(
            f"category {fields['category'].strip()!r} must be a name or a path like "
            f"'Makanan > Mie Instan', each part 1 to {MAX_CATEGORY} characters"
        )
    price, reason = _price(fields["price"].strip(), exponent)
    if reason:
        reasons.append(reason)
    stock_text = fields["stock"].strip()
    stock = int(stock_text) if stock_text.isascii() and stock_text.isdigit() else -1
    if not 0 <= stock <= MAX_STOCK:
        reasons.append(f"stock {stock_text!r} must be a whole number from 0 to {MAX_STOCK}")
    row_currency = fields.get("currency", "").strip().upper()
    if row_currency and row_currency != currency:
        reasons.append(f"currency {row_currency!r} is not the shop's currency {currency}")
    if reasons:
        return None, reasons
    return ProductRow(sku, name, description, category, price, stock), []


def _price(text: str, exponent: int) -> tuple[int, str | None]:
    """`text` (major units) as an integer count of minor units, or the reason it is not one.

    Every decimal written counts, zeros too: `3.500` in rupiah is Rp 3.500 mistyped with a
    thousands separator far more often than Rp 3,50, so it is refused, never read as 350.
    """
    match = PRICE_RE.fullmatch(text)
    if match is None:
        return 0, (
            f"price {text!r} must be a number like 3500 or 3500.50 "
            "(no currency sign or thousands separator)"
        )
    whole, fraction = match[1], match[2] or ""
    if len(fraction) > exponent:
        reason = f"price {text!r} has more than {exponent} decimal(s)"
        if len(fraction) == 3 and len(whole) <= 3 and not whole.startswith("0"):
            reason += f": '.' looks like a thousands separator; write {whole}{fraction}"
        return 0, reason
    digits = (whole + fraction.ljust(exponent, "0")).lstrip("0") or "0"
    if len(digits) > len(str(MAX_PRICE_MINOR)) or int(digits) >= MAX_PRICE_MINOR:
        return 0, f"price {text!r} is too large"  # the length first: int() of 5000 digits fails
    return int(digits), None


def _apply(
    rows: list[ProductRow], currency: str, existing: dict[str, Product]
) -> tuple[ImportResult, list[tuple[int, int, int]]]:
    """Write the rows; returns the counts and the `(product_id, stock, version)` of every
    product created or whose stock changed."""
    categories: dict[tuple[str, ...], int] = {}
    announced: list[tuple[int, int, int]] = []
    created = updated = unchanged = adjusted = 0
    now = utcnow()
    for row in rows:
        category = _category(row.category, categories)
        product = existing.get(row.sku)
        if product is None:
            made = Product.create(
                sku=row.sku,
                name=row.name,
                description=row.description,
                category=category,
                price=row.price,
                currency=currency,
                stock=row.stock,
                initial_stock=row.stock,
                created_at=now,
                updated_at=now,
            )
            announced.append((made.id, row.stock, 1))
            created += 1
            continue
        old = (product.name, product.description, product.category_id, product.price)
        new = (row.name, row.description, category, row.price)
        delta = row.stock - product.stock
        if old == new and product.currency == currency and not delta:
            unchanged += 1
            continue
        changes = {
            Product.name: row.name,
            Product.description: row.description,
            Product.category: category,
            Product.price: row.price,
            Product.currency: currency,
            Product.updated_at: now,
        }
        if delta:
            changes.update({Product.stock: row.stock, Product.version: Product.version + 1})
        Product.update(changes).where(Product.id == product.id).execute()
        updated += 1
        if delta:
            StockMovement.create(
                product=product.id,
                kind="adjustment",
                delta=delta,
                stock_after=row.stock,
                reason="import",
                created_at=now,
            )
            announced.append((product.id, row.stock, product.version + 1))
            adjusted += 1
    return ImportResult(created, updated, unchanged, adjusted), announced


def _lock_existing(db: pw.Database, skus: list[str]) -> dict[str, Product]:
    """The products with these SKUs, locked against concurrent stock changes until commit."""
    found: dict[str, Product] = {}
    for chunk in pw.chunked(skus, 500):
        query = Product.select().where(Product.sku.in_(chunk))
        if isinstance(db, pw.PostgresqlDatabase):
            query = query.for_update()
        found.update((p.sku, p) for p in query)
    return found


def _category(path: tuple[str, ...], cache: dict[tuple[str, ...], int]) -> int:
    """The id of the category at `path`, creating the missing ones."""
    if path in cache:
        return cache[path]
    parent = _category(path[:-1], cache) if len(path) > 1 else None
    match = Category.select().where(
        Category.name == path[-1],
        Category.parent.is_null() if parent is None else Category.parent == parent,
    )
    found = match.order_by(Category.id).first()
    cache[path] = found.id if found else Category.create(name=path[-1], parent=parent).id
    return cache[path]
