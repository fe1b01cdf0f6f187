"""`db.restore` and `warung-server restore`, on SQLite and on a PostgreSQL schema."""

import os
import shutil
import sqlite3

import pytest

from db.backup import backup, search_path_schema
from db.connect import connect, disconnect
from db.migrations import LATEST, current_version, migrate
from db.models import Product
from db.restore import RestoreError, RestoreRefused, restore
from db.url import parse_url
from tests.db.test_backup import shop, snapshot
from tests.db.test_db_cli import cli

PG_TOOLS = bool(shutil.which("pg_restore") and shutil.which("psql"))
needs_pg_tools = pytest.mark.skipif(not PG_TOOLS, reason="needs pg_restore and psql")


@pytest.fixture
def url(db_url):
    """`db_url`; its PostgreSQL run skips where pg_restore or psql is missing."""
    if db_url.startswith("postgres") and not PG_TOOLS:
        pytest.skip("needs pg_restore and psql")
    return db_url


def other_url(url, tmp_path):
    """Where to restore a backup of `url`: another SQLite file; the same PostgreSQL schema
    (a pg_dump archive restores into the schema it was made from)."""
    return f"sqlite:///{tmp_path / 'restored.db'}" if url.startswith("sqlite") else url


def current_schema(db):
    return db.execute_sql("SELECT current_schema()").fetchone()[0]


def wreck(url):
    """Lose the database: the SQLite file is overwritten, the PostgreSQL schema dropped."""
    parsed = parse_url(url)
    if parsed.kind == "sqlite":
        with open(parsed.path, "r+b") as file:
            file.write(b"\0" * 4096)
        return
    db = connect(url, bind_models=False)
    db.execute_sql(f'DROP SCHEMA "{current_schema(db)}" CASCADE')
    disconnect(db)


def tables_of(url):
    db = connect(url, bind_models=False)
    try:
        return db.get_tables(schema=search_path_schema(parse_url(url)))
    finally:
        disconnect(db)


def test_a_backup_comes_back_whole_and_refuses_to_overwrite_unless_forced(url, tmp_path):
    db = shop(url)
    before = snapshot(db)
    dump = backup(url, tmp_path / "shop.backup")
    Product.create(sku="LATER-1", name="After", price=1, currency="IDR", stock=1, initial_stock=1)
    disconnect(db)

    with pytest.raises(RestoreRefused, match=r"not empty \(\d+ tables, 0 orders\).*--force"):
        restore(url, dump)
    db = connect(url)
    assert Product.select().where(Product.sku == "LATER-1").exists()  # refused: untouched
    disconnect(db)

    done = restore(url, dump, force=True)
    assert (done.version, done.migrated_to, done.problems) == (LATEST, LATEST, [])
    assert done.products == len(before["products"])
    db = connect(url)
    try:
        assert snapshot(db) == before
    finally:
        disconnect(db)


def test_a_restored_sqlite_database_keeps_its_mode_and_a_new_one_is_private(tmp_path):
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    disconnect(shop(url))
    dump = backup(url, tmp_path / "shop.backup")
    (tmp_path / "shop.db").chmod(0o640)
    old = os.umask(0o022)  # a new file would be 0644
    try:
        restore(url, dump, force=True)
        restore(f"sqlite:///{tmp_path / 'new.db'}", dump)
    finally:
        os.umask(old)
    assert (tmp_path / "shop.db").stat().st_mode & 0o777 == 0o640
    assert (tmp_path / "new.db").stat().st_mode & 0o777 == 0o600
    with pytest.raises(RestoreError, match=r"cannot write the database .*nodir.*No such file"):
        restore(f"sqlite:///{tmp_path / 'nodir' / 'x.db'}", dump)


def test_a_wrecked_database_is_restored_over(url, tmp_path):
    disconnect(shop(url))
    dump = backup(url, tmp_path / "shop.backup")
    wreck(url)
    if url.startswith("sqlite"):  # a damaged file is something: it takes --force
        with pytest.raises(RestoreRefused, match="not a readable SQLite database"):
            restore(url, dump)
    assert restore(url, dump, force=True).problems == []
    db = connect(url)
    try:
        assert Product.select().count() > 0
    finally:
        disconnect(db)


def test_an_older_backup_is_migrated_forward(url, tmp_path):
    db = connect(url)
    migrate(db, target=4)
    disconnect(db)
    dump = backup(url, tmp_path / "old.backup")
    target = other_url(url, tmp_path)
    if target == url:
        wreck(url)
    done = restore(target, dump)
    assert (done.version, done.migrated_to) == (4, LATEST)
    db = connect(target)
    try:
        assert current_version(db) == LATEST
    finally:
        disconnect(db)


def test_a_backup_from_a_newer_warung_is_refused(url, tmp_path):
    db = connect(url)
    migrate(db)
    db.execute_sql("INSERT INTO schema_version (version, description) VALUES (99, 'future')")
    disconnect(db)
    dump = backup(url, tmp_path / "future.backup")
    target = other_url(url, tmp_path)
    if target == url:
        wreck(url)
    with pytest.raises(RestoreError, match="at schema version 99, but this warung only knows"):
        restore(target, dump)
    if target.startswith("sqlite"):
        assert not (tmp_path / "restored.db").exists()
    else:
        assert tables_of(target) == []


def test_what_is_not_a_warung_backup_is_refused(tmp_path):
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(RestoreError, match="neither a SQLite database nor a pg_dump archive"):
        restore(url, tmp_path / "notes.txt")
    with pytest.raises(RestoreError, match="there is no backup file"):
        restore(url, tmp_path / "missing.db")
    other = sqlite3.connect(tmp_path / "other.db")
    other.execute("CREATE TABLE t (x)")
    other.close()
    with pytest.raises(RestoreError, match="no schema_version table"):
        restore(url, tmp_path / "other.db")
    (tmp_path / "fake.dump").write_bytes(b"PGDMP" + b"\0" * 100)
    with pytest.raises(RestoreError, match="PostgreSQL \\(pg_dump\\) backup; it cannot be"):
        restore(url, tmp_path / "fake.dump")
    assert not (tmp_path / "shop.db").exists()


def test_a_sqlite_database_in_use_is_not_replaced(tmp_path):
    url = f"sqlite:///{tmp_path / 'live.db'}"
    db = shop(url)
    dump = backup(url, tmp_path / "shop.backup")
    Product.create(sku="LATER-1", name="After", price=1, currency="IDR", stock=1, initial_stock=1)
    try:
        with pytest.raises(RestoreError, match="open in another program"):
            restore(url, dump, force=True)
        assert Product.select().where(Product.sku == "LATER-1").exists()
    finally:
        disconnect(db)
    restore(url, dump, force=True)  # once it is closed
    db = connect(url)
    try:
        assert not Product.select().where(Product.sku == "LATER-1").exists()
    finally:
        disconnect(db)


@pytest.mark.pg
@needs_pg_tools
def test_a_failing_postgresql_restore_changes_nothing(new_pg_schema, tmp_path):
    """The archive's SQL fails midway (a table of it uses a type that no longer exists): the
    schema dropped at the start of the same transaction is back, as it was."""
    with new_pg_schema() as url, new_pg_schema() as elsewhere:
        other = dict(parse_url(elsewhere).params)["options"].split("=", 1)[1]
        db = shop(url)
        db.execute_sql(f"CREATE TYPE \"{other}\".mood AS ENUM ('ok')")
        db.execute_sql(f'CREATE TABLE extra (m "{other}".mood)')
        dump = backup(url, tmp_path / "shop.backup")
        db.execute_sql("DROP TABLE extra")
        db.execute_sql(f'DROP TYPE "{other}".mood')
        before = snapshot(db)
        disconnect(db)
        with pytest.raises(RestoreError, match=r"psql failed; nothing was restored: .*mood"):
            restore(url, dump, force=True)
        db = connect(url)
        try:
            assert snapshot(db) == before
        finally:
            disconnect(db)


@pytest.mark.pg
@needs_pg_tools
def test_a_pg_restore_failing_midway_changes_nothing(new_pg_schema, tmp_path, monkeypatch):
    """pg_restore stops halfway through its SQL (here: a stand-in that passes on the first
    20 kB of the real one's, then fails): psql, which has dropped the schema in its open
    transaction, is stopped before the end of its input, and so never commits."""
    real = shutil.which("pg_restore")
    fake = tmp_path / "bin" / "pg_restore"
    fake.parent.mkdir()
    fake.write_text(
        "#!/bin/sh\n"
        f'case " $* " in *" --list "*|*" --data-only "*) exec {real} "$@";; esac\n'
        f'{real} "$@" | head -c 20000\n'
        'echo "pg_restore: error: could not read from input file: end of file" >&2\n'
        "exit 1\n"
    )
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}:{os.environ['PATH']}")
    with new_pg_schema() as url:
        db = shop(url)
        dump = backup(url, tmp_path / "shop.backup")
        before = snapshot(db)
        disconnect(db)
        with pytest.raises(RestoreError, match=r"pg_restore failed; nothing.*end of file"):
            restore(url, dump, force=True)
        db = connect(url)
        try:
            assert snapshot(db) == before
        finally:
            disconnect(db)


def test_the_command_says_what_it_did_and_exits_as_documented(tmp_path):
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    assert cli("init", "--db", url).returncode == 0
    assert cli("backup", "--db", url, str(tmp_path / "shop.backup")).returncode == 0
    refused = cli("restore", "--db", url, str(tmp_path / "shop.backup"))
    assert refused.returncode == 1
    assert "is not empty" in refused.stderr and "--force" in refused.stderr
    done = cli("restore", "--db", url, str(tmp_path / "shop.backup"), "--force")
    assert done.returncode == 0, done.stderr
    assert f"restored {tmp_path / 'shop.backup'} into the SQLite database" in done.stderr
    assert f"schema version {LATEST}; 0 orders" in done.stderr
    assert cli("restore", "--db", url).returncode == 2  # SRC missing: a usage error


def test_a_restored_shop_that_does_not_add_up_is_reported(tmp_path):
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    db = shop(url)
    Product.update(stock=Product.stock + 1).where(Product.sku == "MIE-0001").execute()
    disconnect(db)
    assert cli("backup", "--db", url, str(tmp_path / "shop.backup")).returncode == 0
    target = f"sqlite:///{tmp_path / 'restored.db'}"
    done = cli("restore", "--db", target, str(tmp_path / "shop.backup"))
    assert done.returncode == 1
    assert "the restored shop does not add up:\n  product " in done.stderr
    assert "(MIE-0001): stock is" in done.stderr
    assert (tmp_path / "restored.db").exists()  # restored all the same: it is what was backed up
