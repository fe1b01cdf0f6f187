"""A believable demo shop: an Indonesian warung with a few hundred products.

Everything comes from the tables below and one seeded random generator, so every database that
gets the demo gets the same catalogue (same SKUs, names, prices and stock). Brands are made up.
Prices are whole rupiah in the tables and stored in minor units (IDR has exponent 2).
"""

from __future__ import annotations

import random
from typing import Any, NamedTuple

import peewee as pw

from db.models import Category, Product, Setting, require_bound, utcnow
from db.transactions import write_transaction

SEED = 7411
SHOP_NAME = "Warung Bu Sari (demo)"
CURRENCY, EXPONENT = "IDR", 2

# (kind, variants, [(size, price in rupiah)]); an empty variant or size is left out of the name.
Item = tuple[str, list[str], list[tuple[str, int]]]
# parent category -> [(leaf category, SKU prefix, brands, items)]
CATALOGUE: dict[str, list[tuple[str, str, list[str], list[Item]]]] = {
    "Makanan": [
        (
            "Mie Instan",
            "MIE",
            ["Rasa Sayang", "Dapur Ibu", "Sinar Pagi"],
            [
                (
                    "Mie Goreng",
                    ["Original", "Pedas Manis", "Rendang", "Ayam Geprek", "Sambal Matah"],
                    [("85 g", 3500)],
                ),
                (
                    "Mie Kuah",
                    ["Ayam Bawang", "Soto Ayam", "Kari Ayam", "Baso Sapi", "Kaldu Ayam"],
                    [("75 g", 3200)],
                ),
                ("Mie Cup", ["Ayam", "Pedas"], [("60 g", 6000)]),
                ("Bihun Instan", ["Kuah Soto", "Goreng"], [("55 g", 3000)]),
            ],
        ),
        (
            "Makanan Ringan",
            "SNK",
            ["Kriuk", "Gurih Jaya", "Pelangi"],
            [
                (
                    "Keripik Singkong",
                    ["Balado", "Original", "Pedas Daun Jeruk"],
                    [("60 g", 5000), ("180 g", 13000)],
                ),
                ("Keripik Kentang", ["Rumput Laut", "Sapi Panggang"], [("68 g", 10000)]),
                ("Kacang Atom", ["Original", "Pedas"], [("100 g", 7000)]),
                ("Kerupuk Udang", [""], [("250 g", 18000)]),
                ("Emping Melinjo", ["Manis", "Asin"], [("150 g", 15000)]),
                ("Rempeyek Kacang", [""], [("100 g", 9000)]),
            ],
        ),
        (
            "Roti & Biskuit",
            "BIS",
            ["Mekar Sari", "Roti Nona", "Tiga Putri"],
            [
                ("Roti Tawar", ["Gandum", "Kupas"], [("400 g", 16000)]),
                ("Roti Sobek", ["Cokelat", "Srikaya", "Keju"], [("200 g", 13500)]),
                ("Biskuit Kelapa", [""], [("300 g", 9000)]),
                ("Wafer", ["Cokelat", "Vanila", "Stroberi"], [("140 g", 7500)]),
                ("Biskuit Marie", ["Susu"], [("200 g", 8500)]),
                ("Kue Kering Nastar", [""], [("250 g", 45000)]),
            ],
        ),
    ],
    "Sembako": [
        (
            "Beras & Tepung",
            "BRS",
            ["Tani Makmur", "Padi Emas", "Sawah Subur"],
            [
                (
                    "Beras",
                    ["Pandan Wangi", "Setra Ramos", "Merah"],
                    [("1 kg", 16000), ("5 kg", 76000)],
                ),
                ("Tepung Terigu", ["Serbaguna", "Protein Tinggi"], [("1 kg", 13000)]),
                ("Tepung Beras", [""], [("500 g", 9000)]),
                ("Tepung Tapioka", [""], [("500 g", 8000)]),
            ],
        ),
        (
            "Minyak & Gula",
            "MNY",
            ["Sawit Jaya", "Gunung Mas", "Kencana"],
            [
                ("Minyak Goreng Sawit", [""], [("1 L", 18000), ("2 L", 35000)]),
                ("Minyak Kelapa", [""], [("500 ml", 22000)]),
                ("Gula Pasir", [""], [("1 kg", 17500)]),
                ("Gula Merah", ["Aren", "Kelapa"], [("500 g", 15000)]),
                ("Margarin", [""], [("200 g", 8000)]),
            ],
        ),
        (
            "Bumbu Dapur",
            "BMB",
            ["Dapur Ibu", "Cap Bintang", "Rempah Nusantara"],
            [
                ("Kecap Manis", [""], [("220 ml", 9500), ("550 ml", 21000)]),
                ("Saus Sambal", ["Pedas", "Extra Pedas"], [("340 ml", 14000)]),
                (
                    "Bumbu Instan",
                    ["Rendang", "Opor", "Nasi Goreng", "Soto", "Gulai"],
                    [("50 g", 5500)],
                ),
                ("Terasi Udang", [""], [("100 g", 7000)]),
                ("Garam Beryodium", [""], [("250 g", 3000)]),
                ("Merica Bubuk", [""], [("25 g", 4500)]),
                ("Kaldu Bubuk", ["Ayam", "Sapi"], [("100 g", 6500)]),
            ],
        ),
    ],
    "Minuman": [
        (
            "Kopi & Teh",
            "KOP",
            ["Merapi", "Kebun Sari", "Tanah Toraja"],
            [
                ("Kopi Bubuk", ["Robusta", "Arabika"], [("165 g", 15000), ("500 g", 42000)]),
                ("Kopi Sachet", ["Susu", "Gula Aren", "Mocca"], [("10 x 20 g", 15000)]),
                ("Teh Celup", ["Melati", "Hijau"], [("25 kantong", 7000)]),
                ("Teh Tubruk", ["Wangi Melati"], [("40 g", 4500)]),
            ],
        ),
        (
            "Minuman Ringan",
            "MNR",
            ["Segar Alam", "Pelangi", "Es Segar"],
            [
                ("Teh Botol", ["Manis", "Kurang Manis"], [("350 ml", 4500), ("1 L", 9000)]),
                ("Minuman Jeruk", [""], [("350 ml", 5000)]),
                ("Soda Stroberi", [""], [("330 ml", 7000)]),
                ("Minuman Isotonik", [""], [("500 ml", 7500)]),
                ("Cincau Kaleng", [""], [("310 ml", 6500)]),
                ("Sari Kacang Hijau", [""], [("250 ml", 5000)]),
            ],
        ),
        (
            "Air Mineral",
            "AIR",
            ["Gunung Salak", "Tirta Murni", "Embun Pagi"],
            [
                ("Air Mineral", [""], [("330 ml", 3000), ("600 ml", 4000), ("1,5 L", 7000)]),
                ("Air Galon Isi Ulang", [""], [("19 L", 22000)]),
                ("Air Mineral Gelas", [""], [("dus 48 x 220 ml", 28000)]),
            ],
        ),
        (
            "Susu",
            "SUS",
            ["Sapi Perah", "Lembang", "Bunda"],
            [
                ("Susu Kental Manis", ["Putih", "Cokelat"], [("370 g", 12500), ("40 g", 1500)]),
                (
                    "Susu UHT",
                    ["Full Cream", "Cokelat", "Stroberi"],
                    [("200 ml", 6000), ("1 L", 19000)],
                ),
                ("Susu Bubuk", ["Full Cream"], [("400 g", 48000)]),
            ],
        ),
    ],
    "Rumah Tangga": [
        (
            "Sabun & Deterjen",
            "SAB",
            ["Bersih Jaya", "Harum Sari", "Cap Kelinci"],
            [
                ("Deterjen Bubuk", [""], [("800 g", 22000)]),
                ("Sabun Cuci Piring", ["Jeruk Nipis"], [("780 ml", 14500)]),
                ("Pewangi Pakaian", ["Lavender", "Bunga Sakura"], [("900 ml", 12000)]),
                ("Sabun Batang Cuci", [""], [("3 x 180 g", 12000)]),
                ("Pembersih Lantai", ["Sereh", "Lemon"], [("800 ml", 13000)]),
            ],
        ),
        (
            "Perawatan Diri",
            "PRW",
            ["Melati Indah", "Segar Pagi", "Putri Ayu"],
            [
                ("Sabun Mandi", ["Sirih", "Beras", "Susu"], [("85 g", 4000)]),
                ("Sampo", ["Lidah Buaya", "Urang-aring"], [("170 ml", 19000), ("10 ml", 1000)]),
                ("Pasta Gigi", ["Daun Sirih", "Mint"], [("190 g", 13500)]),
                ("Sikat Gigi", ["Lembut", "Sedang"], [("", 6000)]),
                ("Minyak Kayu Putih", [""], [("60 ml", 24000)]),
            ],
        ),
        (
            "Alat Tulis",
            "ATK",
            ["Kancil", "Garuda", "Pena Mas"],
            [
                ("Buku Tulis", ["38 Lembar", "58 Lembar"], [("", 4000)]),
                ("Pulpen", ["Hitam", "Biru", "Merah"], [("0,5 mm", 3000)]),
                ("Pensil 2B", [""], [("", 3500)]),
                ("Penghapus", [""], [("", 2000)]),
                ("Lem Kertas", [""], [("35 ml", 4000)]),
                ("Isolasi Bening", [""], [("24 mm", 5000)]),
            ],
        ),
    ],
}


class DemoShop(NamedTuple):
    products: int
    categories: int


class ShopNotEmpty(Exception):
    """The demo shop only goes into a database without products."""


def load_demo(db: pw.Database, seed: int = SEED) -> DemoShop:
    """Fill an empty shop with the demo catalogue and name it; creates no accounts.

    The models must be bound to `db`. Raises `ShopNotEmpty` if any product exists.
    """
    require_bound(db)
    rng = random.Random(seed)
    with write_transaction(db):
        if Product.select().exists():
            raise ShopNotEmpty("the database already has products; the demo shop was not loaded")
        for key, value in (
            ("shop_name", SHOP_NAME),
            ("currency", CURRENCY),
            ("currency_exponent", str(EXPONENT)),
        ):
            Setting.insert(key=key, value=value).on_conflict(
                conflict_target=[Setting.key], update={Setting.value: value}
            ).execute()
        categories = 0
        rows = []
        for parent_name, leaves in CATALOGUE.items():
            parent = Category.create(name=parent_name)
            categories += 1
            for leaf_name, prefix, brands, items in leaves:
                leaf = Category.create(name=leaf_name, parent=parent)
                categories += 1
                rows += _products(rng, leaf.id, prefix, brands, items)
        for chunk in pw.chunked(rows, 50):
            Product.insert_many(chunk).execute()
    return DemoShop(products=len(rows), categories=categories)


def _products(
    rng: random.Random, category_id: int, prefix: str, brands: list[str], items: list[Item]
) -> list[dict[str, Any]]:
    now = utcnow()
    rows: list[dict[str, Any]] = []
    for kind, variants, sizes in items:
        for brand_index, brand in enumerate(brands):
            for variant in variants:
                for size, rupiah in sizes:
                    # Brands sit a little above or below each other, with some noise.
                    factor = (0.9, 1.0, 1.15)[brand_index % 3] * rng.uniform(0.95, 1.05)
                    price = max(500, round(rupiah * factor / 500) * 500)
                    stock = _stock(rng)
                    title = " ".join(p for p in (brand, kind, variant, size) if p)
                    detail = f"{kind} {variant}".strip()
                    rows.append(
                        {
                            "sku": f"{prefix}-{len(rows) + 1:04d}",
                            "name": title,
                            "description": f"{detail} merek {brand}"
                            + (f", kemasan {size}." if size else "."),
                            "category": category_id,
                            "price": price * 10**EXPONENT,
                            "currency": CURRENCY,
                            "stock": stock,
                            "initial_stock": stock,
                            "created_at": now,
                            "updated_at": now,
                        }
                    )
    return rows


def _stock(rng: random.Random) -> int:
    """Mostly 20-200; about one in ten scarce (1-5); about one in twenty-five sold out."""
    roll = rng.random()
    if roll < 0.04:
        return 0
    if roll < 0.14:
        return rng.randint(1, 5)
    return rng.randint(20, 200)
