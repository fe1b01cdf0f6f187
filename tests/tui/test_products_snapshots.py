"""Pictures of the admin's Products tab at 80x24 (pytest-textual-snapshot): the list with an
archived product marked, and the new-product form showing the server's word on a taken
SKU under its field. Each runs on a demo shop of its own (the same on every run).

After a deliberate change of the look: `pytest tests/tui/test_products_snapshots.py
--snapshot-update`, and review the SVGs in `__snapshots__/`.
"""

from __future__ import annotations

from textual.widgets import Select

from tests.e2e.harness import ServerProcess
from tests.tui.pilot import make_app, wait_for
from tests.tui.test_products_admin import form, problem, products_tab, submit
from tests.tui.test_snapshots import steady


def archive_the_second(shop: ServerProcess) -> None:
    with shop.client("admin") as admin:
        second = admin.call("catalog.list", limit=2)["items"][1]
        admin.call("admin.product.archive", product_id=second["id"])


def test_products_with_an_archived_one(snap_compare, fresh_shop: ServerProcess):
    archive_the_second(fresh_shop)

    async def run_before(pilot):
        await products_tab(pilot, fresh_shop)
        await steady(pilot)

    assert snap_compare(make_app(fresh_shop), run_before=run_before, terminal_size=(80, 24))


def test_new_product_with_a_taken_sku(snap_compare, fresh_shop: ServerProcess):
    async def run_before(pilot):
        await products_tab(pilot, fresh_shop)
        dialog = await form(pilot, "n")
        dialog.query_one("#form-category", Select).value = dialog.categories[0][1]
        await submit(pilot, dialog, sku="MIE-0001", name="Mie Goreng Baru", price="3500")
        await wait_for(pilot, lambda: problem(dialog, "sku"), "the taken SKU")
        await steady(pilot)

    assert snap_compare(make_app(fresh_shop), run_before=run_before, terminal_size=(80, 24))
