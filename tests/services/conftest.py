"""Fixtures for in-process service tests (see `inline_db`): a migrated SQLite file holding
a minimal shop, the inline executor over it, a `Clock`, an event hub, a payment gateway on
the clock and the refund service over them."""

from __future__ import annotations

from collections.abc import Iterator

import peewee as pw
import pytest
from twisted.internet.task import Clock

from db.connect import connect, disconnect
from db.migrations import migrate
from server.events import EventHub
from server.services.refund import RefundService
from tests.services.inline_db import InlineDatabase, Shop, minimal_shop
from tests.services.shopping import Gateway


@pytest.fixture
def db(tmp_path) -> Iterator[pw.Database]:
    """A new SQLite file, migrated, with the models bound to it."""
    database = connect(f"sqlite:///{tmp_path / 'warung.db'}")
    migrate(database)
    yield database
    disconnect(database)


@pytest.fixture
def mini_shop(db: pw.Database) -> Shop:
    return minimal_shop()


@pytest.fixture
def dbx(db: pw.Database) -> InlineDatabase:
    return InlineDatabase(db)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def hub() -> EventHub:
    """Stock pushed at once on each publish, not coalesced until the next reactor turn:
    these tests look at what each op sent (tests/server/test_events.py tests coalescing)."""
    return EventHub(lambda flush: flush())


@pytest.fixture
def gateway(clock: Clock) -> Gateway:
    return Gateway(clock)


@pytest.fixture
def refunds(dbx: InlineDatabase, hub: EventHub, clock: Clock, gateway: Gateway) -> RefundService:
    return RefundService(dbx, hub, gateway, clock)
