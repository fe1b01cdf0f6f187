import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest

from db.backup import BackupError, PgDumpMissing, backup, pg_dump_command
from db.connect import connect, disconnect
from db.conservation import check_conservation
from db.demo import load_demo
from db.migrations import check_version, migrate
from db.models import MODELS, Product, StockMovement
from db.url import parse_url

TABLES = sorted([m._meta.table_name for m in MODELS] + ["schema_version"])


def snapshot(db):
    return {t: db.execute_sql(f"SELECT * FROM {t} ORDER BY 1").fetchall() for t in TABLES}


def shop(url):
    """A demo shop with one restock, as the server would leave it."""
    db = connect(url)
    migrate(db)
    load_demo(db)
    tea = Product.get(Product.sku == "MIE-0001")
    with db.atomic():
        Product.update(stock=Product.stock + 12, version=Product.version + 1).where(
            Product.id == tea.id
        ).execute()
        StockMovement.create(
            product=tea, kind="restock", delta=12, stock_after=tea.stock + 12, reason="delivery"
        )
    return db


def test_sqlite_backup_restores_an_identical_database(tmp_path):
    db = shop(f"sqlite:///{tmp_path / 'live.db'}")
    before = snapshot(db)
    # A write in progress elsewhere is not in the copy, and does not stop it.
    writer = sqlite3.connect(tmp_path / "live.db", isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("UPDATE settings SET value = 'uncommitted' WHERE key = 'shop_name'")

    assert backup(f"sqlite:///{tmp_path / 'live.db'}", tmp_path / "copy.db") == tmp_path / "copy.db"
    writer.execute("ROLLBACK")
    writer.close()
    disconnect(db)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []

    restored_path = tmp_path / "restored.db"
    shutil.copy(tmp_path / "copy.db", restored_path)  # restoring is putting the file in place
    restored = connect(f"sqlite:///{restored_path}")
    try:
        assert snapshot(restored) == before
        assert check_version(restored)
        assert check_conservation(restored) == []
    finally:
        disconnect(restored)
    plain = sqlite3.connect(tmp_path / "copy.db")
    assert plain.execute("PRAGMA journal_mode").fetchone() == ("delete",)
    plain.close()


def test_sqlite_backup_refuses_to_overwrite_unless_asked(tmp_path):
    url = f"sqlite:///{tmp_path / 'live.db'}"
    disconnect(shop(url))
    (tmp_path / "copy.db").write_text("precious")
    with pytest.raises(BackupError, match="already exists"):
        backup(url, tmp_path / "copy.db")
    assert (tmp_path / "copy.db").read_text() == "precious"
    backup(url, tmp_path / "copy.db", overwrite=True)
    assert (
        sqlite3.connect(tmp_path / "copy.db").execute("SELECT COUNT(*) FROM products").fetchone()[0]
    )
    with pytest.raises(BackupError, match="cannot replace the database"):
        backup(url, tmp_path / "live.db", overwrite=True)


def test_a_backup_is_its_owners_alone_and_a_missing_directory_is_named(db_url, tmp_path):
    """A backup holds password hashes and two-factor secrets: 0600 whatever the umask."""
    if db_url.startswith("postgres") and not shutil.which("pg_dump"):
        pytest.skip("needs pg_dump")
    disconnect(shop(db_url))
    old = os.umask(0o022)
    try:
        written = backup(db_url, tmp_path / "shop.backup")
    finally:
        os.umask(old)
    assert written.stat().st_mode & 0o777 == 0o600
    with pytest.raises(BackupError, match=r"cannot write the backup .*nodir.*No such file"):
        backup(db_url, tmp_path / "nodir" / "shop.backup")


def test_sqlite_backup_of_a_missing_file(tmp_path):
    with pytest.raises(BackupError, match="no SQLite database file"):
        backup(f"sqlite:///{tmp_path / 'none.db'}", tmp_path / "copy.db")
    assert not (tmp_path / "copy.db").exists()


def test_pg_dump_command_keeps_the_password_out():
    parsed = parse_url("postgresql://shop:hunter22@db:5433/warung?options=-csearch_path%3Dtoko")
    command = pg_dump_command(parsed, Path("out.dump"))
    assert "hunter22" not in " ".join(command)
    assert command[-2:] == [
        "--schema=toko",
        "postgresql://shop@db:5433/warung?options=-csearch_path%3Dtoko",
    ]


def test_without_pg_dump_the_command_is_given(monkeypatch, tmp_path):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(PgDumpMissing) as info:
        backup("postgresql://shop:hunter22@db/warung", tmp_path / "shop.dump")
    assert info.value.command == (
        f"umask 077; PGPASSWORD=... pg_dump --format=custom -f {tmp_path / 'shop.dump'} "
        "postgresql://shop@db/warung"
    )
    assert "hunter22" not in str(info.value)


@pytest.mark.pg
@pytest.mark.skipif(not shutil.which("pg_restore"), reason="needs pg_dump and pg_restore")
def test_postgresql_backup_restores_an_identical_schema(new_pg_schema, pg_url, tmp_path):
    with new_pg_schema() as url:
        db = shop(url)
        before = snapshot(db)
        dump = backup(url, tmp_path / "shop.dump")
        schema = dict(parse_url(url).params)["options"].split("=", 1)[1]
        db.execute_sql(f'DROP SCHEMA "{schema}" CASCADE')
        disconnect(db)
        subprocess.run(["pg_restore", "--no-owner", f"--dbname={pg_url}", str(dump)], check=True)
        restored = connect(url)
        try:
            assert snapshot(restored) == before
            assert check_conservation(restored) == []
            # The sequences came back too: new rows get fresh ids.
            new = Product.create(
                sku="NEW-1", name="Baru", price=0, currency="IDR", stock=1, initial_stock=1
            )
            assert new.id > max(row[0] for row in before["products"])
        finally:
            disconnect(restored)
