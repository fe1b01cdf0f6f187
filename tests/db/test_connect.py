import threading

import peewee as pw
import pytest

# peewee ships type stubs for peewee, but none for playhouse
from playhouse.pool import PooledPostgresqlDatabase  # type: ignore[import-untyped]

from db.connect import DatabaseUnavailable, connect, disconnect
from db.models import Setting, database_proxy
from db.url import DatabaseURLError


def _pragma(db, name):
    return db.execute_sql(f"PRAGMA {name}").fetchone()[0]


def test_sqlite_pragmas(tmp_path):
    db = connect(f"sqlite:///{tmp_path / 'w.db'}")
    try:
        assert _pragma(db, "journal_mode") == "wal"
        assert _pragma(db, "foreign_keys") == 1
        assert _pragma(db, "busy_timeout") == 5000
        assert _pragma(db, "synchronous") == 1  # NORMAL
        assert _pragma(db, "temp_store") == 2  # MEMORY
        assert database_proxy.obj is db
    finally:
        disconnect(db)


def test_sqlite_extra_pragmas_apply_to_every_thread(tmp_path):
    db = connect(f"sqlite:///{tmp_path / 'w.db'}", pragmas={"wal_autocheckpoint": 0})
    seen = []

    def worker():
        seen.append(_pragma(db, "wal_autocheckpoint"))
        db.close()

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    assert seen == [0]
    assert _pragma(db, "wal_autocheckpoint") == 0
    disconnect(db)


def test_relative_sqlite_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    disconnect(connect("sqlite:///rel.db", bind_models=False))
    assert (tmp_path / "rel.db").exists()


def test_default_url_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("WARUNG_DB", f"sqlite:///{tmp_path / 'env.db'}")
    disconnect(connect(bind_models=False))
    assert (tmp_path / "env.db").exists()


def test_missing_directory_is_unavailable_and_named(tmp_path):
    path = tmp_path / "nope" / "w.db"
    with pytest.raises(DatabaseUnavailable, match=f"cannot open SQLite database {path}"):
        connect(f"sqlite:///{path}")


def test_create_false_refuses_a_missing_file(tmp_path):
    path = tmp_path / "missing.db"
    with pytest.raises(DatabaseUnavailable, match="warung-server init"):
        connect(f"sqlite:///{path}", create=False)
    assert not path.exists()


def test_bad_url():
    with pytest.raises(DatabaseURLError, match="ftp"):
        connect("ftp://example.com/shop")


def test_unreachable_postgresql_names_host_port_db_without_password():
    url = "postgresql://shop:hunter22@127.0.0.1:1/warung?connect_timeout=2"
    with pytest.raises(DatabaseUnavailable) as info:
        connect(url)
    message = str(info.value)
    assert "PostgreSQL database 'warung' at 127.0.0.1:1 as user shop" in message
    assert "hunter22" not in message


@pytest.mark.pg
def test_postgresql_is_pooled_and_answers(pg_url):
    db = connect(pg_url, max_connections=3, bind_models=False)
    try:
        assert isinstance(db, PooledPostgresqlDatabase)
        assert db._max_connections == 3
        assert db.execute_sql("SELECT 1").fetchone() == (1,)
    finally:
        disconnect(db)


@pytest.mark.pg
def test_missing_postgresql_database_is_named(pg_url):
    base = pg_url.rsplit("/", 1)[0]
    with pytest.raises(DatabaseUnavailable, match=r"'no_such_warung_db'.*does not exist"):
        connect(f"{base}/no_such_warung_db")


def test_models_work_through_the_bound_database(database):
    assert isinstance(database, pw.Database)
    assert Setting.get_by_id("currency").value == "IDR"
