"""Fixtures for the server's in-process tests."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import cast

import peewee as pw
import pytest
from twisted.logger import ILogObserver, LogEvent, globalLogPublisher

from db.connect import connect, disconnect
from db.migrations import migrate
from db.models import Product
from tests.conftest import fresh_pg_schema
from tests.server.pg_jobs import STOCK


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    """Two ends of a real TCP connection on loopback."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        theirs = socket.create_connection(listener.getsockname())
        ours, _ = listener.accept()
    ours.setblocking(False)
    theirs.setblocking(False)
    yield ours, theirs
    ours.close()
    theirs.close()


@pytest.fixture
def logged() -> Iterator[list[LogEvent]]:
    """Every event logged through twisted.logger while the test runs."""
    events: list[LogEvent] = []
    observer = cast(ILogObserver, events.append)  # mypy cannot read the interface's __call__
    globalLogPublisher.addObserver(observer)
    yield events
    globalLogPublisher.removeObserver(observer)


@pytest.fixture
def pg() -> Iterator[tuple[str, pw.Database, list[int]]]:
    """A fresh schema with three products of `STOCK` units: its URL, database and ids."""
    with fresh_pg_schema() as url:
        db = connect(url)
        migrate(db)
        units = {"stock": STOCK, "initial_stock": STOCK}
        made = [
            Product.create(sku=f"P{i}", name=f"P{i}", price=1000, currency="IDR", **units)
            for i in range(3)
        ]
        ids = [product.id for product in made]
        yield url, db, ids
        disconnect(db)
