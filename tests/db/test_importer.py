import pytest

from db.conservation import check_conservation
from db.importer import ImportFailed, ImportResult, RowProblem, import_products, parse_products
from db.models import AuditLog, Category, Product, StockMovement

HEADER = "sku,name,description,category,price,stock\n"


def write(tmp_path, text, name="products.csv", encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def problems(text):
    with pytest.raises(ImportFailed) as info:
        parse_products(text, "IDR", 2)
    return [str(p) for p in info.value.problems]


def test_imports_new_products_with_category_paths(database, tmp_path):
    path = write(
        tmp_path,
        HEADER
        + "MIE-1,Mie Goreng Rendang 85 g,Mie instan,Makanan > Mie Instan,3500,40\n"
        + 'KOP-1,"Kopi Bubuk, Robusta 165 g","Sangrai ""gelap""",Minuman,15000.50,0\n'
        + "MIE-2,Mie Kuah Soto 75 g,,Makanan > Mie Instan,3200.5,7\n",
    )
    assert import_products(database, path) == ImportResult(3, 0, 0, 0)
    mie = Product.get(Product.sku == "MIE-1")
    assert (mie.name, mie.price, mie.currency, mie.stock, mie.initial_stock, mie.version) == (
        "Mie Goreng Rendang 85 g",
        350000,
        "IDR",
        40,
        40,
        1,
    )
    assert Product.get(Product.sku == "KOP-1").description == 'Sangrai "gelap"'
    assert Product.get(Product.sku == "KOP-1").price == 1500050
    assert Product.get(Product.sku == "MIE-2").price == 320050
    leaf = Category.get(Category.name == "Mie Instan")
    assert leaf.parent.name == "Makanan" and leaf.parent.parent is None
    assert Category.select().count() == 3
    assert StockMovement.select().count() == 0
    assert AuditLog.get().action == "products.import"


def test_one_bad_row_imports_nothing_and_names_its_line(database, tmp_path, make_product):
    make_product(sku="OLD-1", stock=5)
    path = write(
        tmp_path,
        HEADER
        + "NEW-1,Teh Celup Melati,,Minuman,7000,10\n"
        + "OLD-1,Renamed,,Minuman,1000,50\n"
        + "NEW-2,Gula Pasir 1 kg,,Sembako,-17500,10\n"
        + "NEW-3,Garam 250 g,,Sembako,3000,5\n",
    )
    with pytest.raises(ImportFailed) as info:
        import_products(database, path)
    assert info.value.problems == [
        RowProblem(
            4,
            "price '-17500' must be a number like 3500 or 3500.50 "
            "(no currency sign or thousands separator)",
        )
    ]
    assert "line 4: price '-17500'" in str(info.value)
    assert [p.sku for p in Product.select()] == ["OLD-1"]
    assert Product.get(Product.sku == "OLD-1").stock == 5
    assert not Category.select().where(Category.name == "Minuman").exists()


def test_updates_existing_skus_with_adjustment_movements(database, tmp_path, make_product):
    kept = make_product(sku="TEH-1", stock=10, price=700000, name="Teh Celup", description="")
    kept_category = kept.category.name
    make_product(sku="GULA-1", stock=3, name="Gula")
    same = make_product(sku="SAME-1", stock=4, name="Same", price=100000, description="d")
    same_category = same.category.name
    path = write(
        tmp_path,
        "name,sku,price,stock,category,description,currency\n"  # any column order
        + f"Teh Celup Melati,TEH-1,7500,25,{kept_category},isi 25,IDR\n"
        + f"Gula,GULA-1,3500,0,{kept_category},,\n"
        + f"Same,SAME-1,1000,4,{same_category},d,idr\n"
        + f"Baru,NEW-1,1000,4,{kept_category},,\n",
    )
    assert import_products(database, path) == ImportResult(
        created=1, updated=2, unchanged=1, adjusted=2
    )
    tea = Product.get(Product.sku == "TEH-1")
    assert (tea.name, tea.description, tea.price, tea.stock, tea.initial_stock, tea.version) == (
        "Teh Celup Melati",
        "isi 25",
        750000,
        25,
        10,
        2,
    )
    moves = {
        m.product.sku: (m.kind, m.delta, m.stock_after, m.reason) for m in StockMovement.select()
    }
    assert moves == {
        "TEH-1": ("adjustment", 15, 25, "import"),
        "GULA-1": ("adjustment", -3, 0, "import"),
    }
    assert Product.get(Product.sku == "SAME-1").version == 1
    assert check_conservation(database) == []


def test_reports_every_bad_row():
    text = (
        HEADER
        + "OK-1,Fine,,Umum,1000,1\n"
        + "bad sku,Name,,Umum,1000,1\n"
        + "OK-2,,,Umum,1000,1\n"
        + "OK-3,Name,,Makanan >  ,1000,1\n"
        + 'OK-4,Name,,Umum,"12,500",1\n'
        + "OK-5,Name,,Umum,12.505,1\n"
        + "OK-6,Name,,Umum,1000,-1\n"
        + "OK-7,Name,,Umum,1000,2.5\n"
        + "OK-1,Again,,Umum,1000,1\n"
        + "OK-8,Name,,Umum,1000\n"
        + "\n"
        + '"OK-9","multi\nline",,Umum,x,1\n'
        + "OK-10,Name,,Umum,1000,1\n"
    )
    assert problems(text) == [
        "line 3: sku 'bad sku' must be 1 to 64 letters, digits, '.', '_', '/' or '-', "
        "starting with a letter or digit",
        "line 4: name must be 1 to 200 characters",
        "line 5: category 'Makanan >' must be a name or a path like 'Makanan > Mie Instan', "
        "each part 1 to 100 characters",
        "line 6: price '12,500' must be a number like 3500 or 3500.50 "
        "(no currency sign or thousands separator)",
        "line 7: price '12.505' has more than 2 decimal(s): '.' looks like a thousands "
        "separator; write 12505",
        "line 8: stock '-1' must be a whole number from 0 to 2147483647",
        "line 9: stock '2.5' must be a whole number from 0 to 2147483647",
        "line 10: sku 'OK-1' already appears on line 2",
        "line 11: expected 6 fields, found 5",
        "line 13: price 'x' must be a number like 3500 or 3500.50 "
        "(no currency sign or thousands separator)",
    ]


def test_every_decimal_written_counts_trailing_zeros_too():
    """`3.500` in rupiah is Rp 3.500 with a thousands separator, not Rp 3,50: it is refused like
    `3500.001`, never read as 350 minor units."""
    text = (
        HEADER
        + "A-1,Name,,Umum,3.500,1\n"
        + "A-2,Name,,Umum,3500.001,1\n"
        + "A-3,Name,,Umum,3500.000,1\n"
        + "A-4,Name,,Umum,0.500,1\n"
        + f"A-5,Name,,Umum,{'9' * 5000},1\n"
    )
    assert problems(text) == [
        "line 2: price '3.500' has more than 2 decimal(s): '.' looks like a thousands "
        "separator; write 3500",
        "line 3: price '3500.001' has more than 2 decimal(s)",
        "line 4: price '3500.000' has more than 2 decimal(s)",
        "line 5: price '0.500' has more than 2 decimal(s)",
        f"line 6: price '{'9' * 5000}' is too large",
    ]
    fine = ["3.50", "3.5", "3500", "3500.00", "0.05", "9999999999999.99"]
    rows = parse_products(
        HEADER + "".join(f"B-{i},Name,,Umum,{p},1\n" for i, p in enumerate(fine)), "IDR", 2
    )
    assert [row.price for row in rows] == [350, 350, 350000, 350000, 5, 999999999999999]
    with pytest.raises(ImportFailed, match=r"'150\.0' has more than 0 decimal"):
        parse_products(HEADER + "A-1,Name,,Umum,150.0,1\n", "JPY", 0)


def test_a_price_with_a_thousands_separator_imports_nothing(database, tmp_path):
    path = write(tmp_path, HEADER + "A-1,Kopi,,Minuman,15000,5\n" + "A-2,Teh,,Minuman,3.500,5\n")
    with pytest.raises(ImportFailed, match=r"line 3: price '3\.500' .*write 3500"):
        import_products(database, path)
    assert Product.select().count() == 0


def test_header_problems():
    assert problems("sku,name,price,stock,colour\n") == [
        "line 1: header lacks description, category "
        "(expected sku,name,description,category,price,stock[,currency])",
        "line 1: header has unknown column(s) 'colour' "
        "(expected sku,name,description,category,price,stock[,currency])",
    ]
    assert problems("") == ["line 1: the file is empty: expected a header row"]
    assert problems(HEADER) == ["line 2: the file has a header but no products"]


def test_foreign_currency_and_exponent():
    assert problems(HEADER.strip() + ",currency\nA-1,Name,,Umum,1.5,1,USD\n") == [
        "line 2: currency 'USD' is not the shop's currency IDR"
    ]
    rows = parse_products("\ufeff" + HEADER + "A-1,Name,,Umum,150,1\n", "JPY", 0)
    assert rows[0].price == 150
    with pytest.raises(ImportFailed, match="more than 0 decimal"):
        parse_products(HEADER + "A-1,Name,,Umum,1.5,1\n", "JPY", 0)


def test_excel_bom_and_crlf(database, tmp_path):
    path = write(tmp_path, "\ufeff" + HEADER.replace("\n", "\r\n") + "A-1,Nama,,Umum,1000,2\r\n")
    assert import_products(database, path).created == 1


def test_not_utf8(database, tmp_path):
    path = write(tmp_path, HEADER + "A-1,Kopi Caf\xe9,,Umum,1000,2\n", encoding="latin-1")
    with pytest.raises(ImportFailed, match="line 2: the file is not UTF-8 text"):
        import_products(database, path)
