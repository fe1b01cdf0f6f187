"""`OneRunPerKey`: one run per (user, key) at a time, its outcome shared by the retries that
came meanwhile, its slot freed however it ends."""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import Deferred

from protocol.errors import OutOfStock, WarungError
from server.services.checkout import OneRunPerKey
from tests.services.inline_db import error, result

SLOT = (1, "key-1")


def test_a_failure_reaches_the_run_and_every_retry_that_waited_for_it() -> None:
    runs, work = OneRunPerKey(), Deferred[Any]()
    first = runs.run(SLOT, "print", lambda: work)
    retry = runs.run(SLOT, "print", lambda: Deferred())

    work.errback(OutOfStock("none left", {"product_id": 7, "requested": 1, "available": 0}))

    for answer in (first, retry):
        assert error(answer).details == {"product_id": 7, "requested": 1, "available": 0}
    assert not runs.busy


def test_a_run_whose_work_raises_fails_and_frees_its_slot() -> None:
    runs = OneRunPerKey()

    def broken() -> Deferred[Any]:
        raise WarungError("broken at once")

    assert str(error(runs.run(SLOT, "print", broken))) == "broken at once"
    assert not runs.busy
    assert result(runs.run(SLOT, "print", lambda: Deferred.fromCoroutine(_order()))) == {"id": 1}


async def _order() -> dict[str, int]:
    return {"id": 1}
