"""The harness itself: writes behave as the SQLite writer runs them."""

from __future__ import annotations

from typing import Any

import peewee as pw
import pytest

from db.models import Product
from protocol.errors import ErrorCode, OutOfStock
from server import sql
from server.write_jobs import write_job
from tests.services.inline_db import InlineDatabase, Shop, error, result


@write_job
def take_then_fail(db: pw.Database, product_id: int) -> None:
    sql.execute(db, "UPDATE products SET stock = 0 WHERE id = ?", (product_id,))
    raise OutOfStock("gone", {"product_id": product_id})


@write_job
def pair(db: pw.Database, product_id: int) -> tuple[Any, ...] | None:
    return sql.one(db, "SELECT id, stock FROM products WHERE id = ?", (product_id,))


def test_a_failed_write_is_rolled_back_and_its_error_rebuilt_from_the_wire(
    mini_shop: Shop, dbx: InlineDatabase
) -> None:
    failed = error(dbx.write(take_then_fail, mini_shop.kopi))
    assert failed.code == ErrorCode.OUT_OF_STOCK and failed.details == {
        "product_id": mini_shop.kopi
    }
    assert Product.get_by_id(mini_shop.kopi).stock == 5


def test_a_result_arrives_as_msgpack_carries_it(mini_shop: Shop, dbx: InlineDatabase) -> None:
    assert result(dbx.write(pair, mini_shop.teh)) == [mini_shop.teh, 3]  # a tuple became a list
    assert (dbx.reads, dbx.writes) == (0, 1)


def test_only_registered_write_jobs_run(mini_shop: Shop, dbx: InlineDatabase) -> None:
    with pytest.raises(TypeError, match="not marked @write_job"):
        dbx.write(lambda db: None)
