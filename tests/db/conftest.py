"""Factories for the db tests (fast: users get a placeholder hash, not argon2)."""

from __future__ import annotations

import itertools

import pytest

from db.models import Category, Product, User

_counter = itertools.count(1)


@pytest.fixture
def make_user(database):
    def make(username: str | None = None, role: str = "customer") -> User:
        return User.create(
            username=username or f"user{next(_counter)}", password_hash="x", role=role
        )

    return make


@pytest.fixture
def make_product(database):
    def make(stock: int = 10, price: int = 350000, **fields) -> Product:
        n = next(_counter)
        fields.setdefault("category", Category.get_or_create(name="Umum")[0])
        return Product.create(
            sku=fields.pop("sku", f"SKU-{n:05d}"),
            name=fields.pop("name", f"Barang {n}"),
            price=price,
            currency="IDR",
            stock=stock,
            initial_stock=stock,
            **fields,
        )

    return make
