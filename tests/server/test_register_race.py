"""Closing a till while a cash sale of the same clerk runs on another PostgreSQL server: the
sale is counted in the close's expected cash, or refused when it comes after the close; it
never lands in a closed register outside its figures (`db.money.check_money`)."""

import threading
from collections.abc import Callable
from typing import Any

import peewee as pw
import pytest

from db.models import Product, User
from db.money import check_money
from protocol.errors import InvalidState
from server.services.register import close_register, open_register
from server.services.sale import begin_sale
from tests.e2e.harness import wait_until

ROUNDS = 10
PRICE = 12_000
OPENING = 100_000


@pytest.fixture
def shop(database: pw.Database) -> tuple[int, int]:
    """A clerk and a product to sell, on PostgreSQL only (SQLite runs one job at a time)."""
    if not isinstance(database, pw.PostgresqlDatabase):
        pytest.skip("one writer on SQLite: jobs never overlap")
    clerk = User.create(username="kasir", password_hash="x", role="clerk").id
    product = Product.create(
        sku="KOPI", name="Kopi", price=PRICE, currency="IDR", stock=1000, initial_stock=1000
    ).id
    return clerk, product


@pytest.mark.pg
def test_a_sale_running_when_the_till_closes_is_counted_or_refused(database, shop):
    clerk, product = shop
    for round_ in range(ROUNDS):
        with database.atomic():
            open_register(database, clerk, "kasir-1", OPENING)

        def sell(key: str = f"sale-{round_}") -> Any:
            lines = [{"product_id": product, "qty": 1}]
            return begin_sale(database, clerk, key, key, lines, "cash", None, "IDR", "cash")

        def close() -> Any:
            return close_register(database, clerk, OPENING)

        if round_ % 2 == 0:  # the sale holds the open register when the close comes
            sold, closed = race(database, sell, close)
            assert closed["expected_cash"] == OPENING + PRICE, "the close counts the sale"
            assert sold["order"]["status"] == "completed"
        else:  # the close holds it when the sale comes: the sale finds no open register
            closed, refused = race(database, close, sell)
            assert closed["expected_cash"] == OPENING
            assert isinstance(refused, InvalidState)
            assert refused.details == {"reason": "no_open_register"}
        assert check_money(database) == [], f"round {round_}"


def race(
    database: pw.Database, first: Callable[[], Any], second: Callable[[], Any]
) -> tuple[Any, Any]:
    """As two servers would: run `first` in a transaction on one connection and, before it
    commits, `second` in a transaction on another; let `first` commit only once `second`
    has finished or waits for it. Returns what each job returned or raised."""
    outcomes: dict[str, Any] = {}
    held, release = threading.Event(), threading.Event()

    def run(name: str, job: Callable[[], Any]) -> None:
        try:
            with database.atomic():
                outcomes[name] = job()
                if name == "first":
                    outcomes["pid"] = database.execute_sql("SELECT pg_backend_pid()").fetchone()[0]
                    held.set()
                    assert release.wait(30)
        except InvalidState as refused:
            outcomes[name] = refused
        finally:
            database.close()

    threads = [
        threading.Thread(target=run, args=job) for job in [("first", first), ("second", second)]
    ]
    threads[0].start()
    assert held.wait(30)
    threads[1].start()
    wait_until(
        lambda: "second" in outcomes or waits_for(database, outcomes["pid"]),
        30.0,
        "the second job finished or waiting on the lock",
    )
    release.set()
    for thread in threads:
        thread.join(30)
        assert not thread.is_alive()
    return outcomes["first"], outcomes["second"]


def waits_for(database: pw.Database, pid: int) -> bool:
    """Whether a connection waits for the transaction of the backend `pid`."""
    return bool(
        database.execute_sql(
            "SELECT count(*) FROM pg_stat_activity WHERE %s = ANY(pg_blocking_pids(pid))",
            (pid,),
        ).fetchone()[0]
    )
