"""A till's retry that reaches another PostgreSQL server while its first try is still
committing there: whether the sale's lines name products by id or by sku, the retry's batch
waits for the first try's commit and answers with its sale; it never reads the stock the
first try took and answers `out_of_stock`."""

from __future__ import annotations

from typing import Any

import pytest

from db.models import Product, User
from server.pg_batch import Job, run_batch
from server.services.register import open_register
from server.services.sale import begin_sale
from tests.server.test_register_race import race

pytestmark = pytest.mark.pg


@pytest.mark.parametrize("named_by", ["product_id", "sku"])
def test_a_retry_on_another_server_waits_for_the_first_try_and_answers_its_sale(pg, named_by):
    _, db, (product, *_) = pg
    Product.update(stock=1).where(Product.id == product).execute()  # the first try takes it
    clerk = User.create(username="kasir", password_hash="x", role="clerk").id
    with db.atomic():
        open_register(db, clerk, "kasir-1", 0)
    line = {named_by: product if named_by == "product_id" else Product.get_by_id(product).sku}
    args = (clerk, "sale-1", "print", [{**line, "qty": 1}], "cash", None, "IDR", "cash")

    def retry() -> list[Any]:  # server B: its batches, until the retry is settled
        outcomes: list[Any] = []
        again = [Job(begin_sale, args)]
        while again:
            settled, again = run_batch(db, again)
            outcomes.extend(outcome for _, outcome in settled)
        return outcomes

    first, (answer,) = race(db, lambda: begin_sale(db, *args), retry)  # A, then B before A commits
    assert isinstance(answer, dict), f"the retry was refused: {answer}"
    assert answer["existing"] and answer["order"]["id"] == first["order"]["id"]
    assert Product.get_by_id(product).stock == 0
