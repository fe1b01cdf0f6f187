"""`warung-server` database commands, run as a user runs them: in a subprocess."""

import os
import sqlite3
import subprocess
import sys
from datetime import timedelta

import pytest

from db.connect import connect, disconnect
from db.conservation import check_conservation
from db.migrations import LATEST
from db.models import Product, Session, User, utcnow
from db.passwords import verify_password


def cli(*args, stdin="", cwd=None, env=None):
    environment = {k: v for k, v in os.environ.items() if k != "WARUNG_DB"} | (env or {})
    return subprocess.run(
        [sys.executable, "-m", "server.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=cwd,
        env=environment,
        timeout=60,
    )


def test_init_demo_user_and_import_on_both_databases(db_url, tmp_path):
    done = cli("init", "--db", db_url, "--demo")
    assert done.returncode == 0, done.stderr
    assert f"created the schema (version {LATEST})" in done.stderr
    assert "loaded the demo shop: 399 products" in done.stderr
    assert done.stdout == ""

    again = cli("init", "--db", db_url, "--demo")
    assert again.returncode == 0
    assert f"up to date (version {LATEST})" in again.stderr
    assert "already has products; the demo shop was not loaded" in again.stderr

    added = cli(
        "user",
        "add",
        "Kasir1",
        "--role",
        "clerk",
        "--password-stdin",
        "--db",
        db_url,
        stdin="rahasia-123\n",
    )
    assert added.returncode == 0, added.stderr
    assert "created clerk 'kasir1'" in added.stderr
    assert "rahasia-123" not in added.stderr + added.stdout
    taken = cli(
        "user",
        "add",
        "kasir1",
        "--role",
        "admin",
        "--password-stdin",
        "--db",
        db_url,
        stdin="lain-lagi-456\n",
    )
    assert (taken.returncode, taken.stderr.strip()) == (
        1,
        "warung-server: a user named 'kasir1' already exists; choose another name",
    )

    csv = tmp_path / "restock.csv"
    csv.write_text(
        "sku,name,description,category,price,stock\n"
        "MIE-0001,Mie Goreng Original 85 g,,Makanan > Mie Instan,3600,500\n"
        "ES-1,Es Batu 1 kg,,Minuman > Es,5000,30\n"
    )
    imported = cli("import-products", str(csv), "--db", db_url)
    assert imported.returncode == 0, imported.stderr
    assert "1 new, 1 updated (1 with a stock adjustment), 0 unchanged" in imported.stderr

    db = connect(db_url)
    try:
        kasir = User.get(User.username == "kasir1")
        assert kasir.role == "clerk" and verify_password(kasir.password_hash, "rahasia-123")
        assert Product.get(Product.sku == "MIE-0001").stock == 500
        assert Product.select().count() == 400
        assert check_conservation(db) == []
    finally:
        disconnect(db)


def test_user_add_rules_give_status_2(tmp_path):
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    assert cli("init", "--db", url).returncode == 0
    bad_name = cli(
        "user",
        "add",
        "x",
        "--role",
        "customer",
        "--password-stdin",
        "--db",
        url,
        stdin="rahasia-123\n",
    )
    assert bad_name.returncode == 2
    assert "username must be 3 to 32 characters" in bad_name.stderr
    bad_password = cli(
        "user",
        "add",
        "budi",
        "--role",
        "customer",
        "--password-stdin",
        "--db",
        url,
        stdin="pendek\n",
    )
    assert bad_password.returncode == 2
    assert "password must be 8 to 128 characters" in bad_password.stderr
    no_password = cli("user", "add", "budi", "--role", "customer", "--password-stdin", "--db", url)
    assert no_password.returncode == 2
    assert "no password on standard input" in no_password.stderr
    bad_role = cli("user", "add", "budi", "--role", "owner", "--password-stdin", "--db", url)
    assert bad_role.returncode == 2
    assert "invalid choice: 'owner'" in bad_role.stderr


@pytest.mark.parametrize(
    ("password", "rule"),
    [
        ("Password\n", "is one of the most common passwords"),
        ("Budi.Santoso\n", "must not be the username"),
    ],
)
def test_user_add_refuses_a_common_password_or_the_username(tmp_path, password, rule):
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    assert cli("init", "--db", url).returncode == 0
    argv = ("user", "add", "budi.santoso", "--role", "admin", "--password-stdin", "--db", url)

    refused = cli(*argv, stdin=password)

    assert refused.returncode == 2
    assert f"cannot use that password: password {rule}" in refused.stderr
    db = connect(url)
    try:
        assert not User.select().where(User.username == "budi.santoso").exists()
    finally:
        disconnect(db)


def test_commands_other_than_init_need_an_initialised_database(tmp_path):
    missing = cli(
        "user",
        "add",
        "budi",
        "--role",
        "admin",
        "--password-stdin",
        "--db",
        f"sqlite:///{tmp_path / 'typo.db'}",
        stdin="rahasia-123\n",
    )
    assert missing.returncode == 1
    assert "warung-server init" in missing.stderr
    assert not (tmp_path / "typo.db").exists()
    sqlite3.connect(tmp_path / "empty.db").close()
    empty = cli("import-products", "x.csv", "--db", f"sqlite:///{tmp_path / 'empty.db'}")
    assert empty.returncode == 1
    assert "has no warung schema" in empty.stderr and "warung-server init" in empty.stderr


def test_import_with_a_bad_row_imports_nothing(tmp_path):
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    assert cli("init", "--db", url).returncode == 0
    csv = tmp_path / "bad.csv"
    csv.write_text(
        "sku,name,description,category,price,stock\n"
        "A-1,Kopi,,Minuman,1000,5\n"
        "A-2,Teh,,Minuman,1000,lima\n"
    )
    done = cli("import-products", str(csv), "--db", url)
    assert done.returncode == 1
    assert "line 3: stock 'lima' must be a whole number" in done.stderr
    assert "nothing imported" in done.stderr
    missing = cli("import-products", str(tmp_path / "none.csv"), "--db", url)
    assert missing.returncode == 1 and "cannot read" in missing.stderr
    db = connect(url)
    assert Product.select().count() == 0
    disconnect(db)


def test_backup_and_default_url_from_environment(tmp_path):
    env = {"WARUNG_DB": "sqlite:///shop.db"}
    assert cli("init", "--demo", cwd=tmp_path, env=env).returncode == 0
    done = cli("backup", "copy.db", cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    assert "backed up the SQLite database shop.db to copy.db" in done.stderr
    copy = sqlite3.connect(tmp_path / "copy.db")
    assert copy.execute("SELECT COUNT(*) FROM products").fetchone() == (399,)
    copy.close()
    again = cli("backup", "copy.db", cwd=tmp_path, env=env)
    assert again.returncode == 1 and "already exists" in again.stderr
    assert cli("backup", "copy.db", "--force", cwd=tmp_path, env=env).returncode == 0


@pytest.mark.parametrize(
    ("args", "status", "words"),
    [
        (["init", "--db", "mysql://root@localhost/shop"], 2, "unsupported database URL scheme"),
        (
            ["init", "--db", "postgresql://shop:hunter22@127.0.0.1:1/warung?connect_timeout=2"],
            1,
            "cannot reach PostgreSQL database 'warung' at 127.0.0.1:1 as user shop",
        ),
        (["serve", "--port", "70000"], 2, "'70000' is not a port number"),
        (["serve", "--port", "\u00b2"], 2, "'\u00b2' is not a port number"),  # isdigit, not int
        (["serve", "--tls-key", "key.pem"], 2, "--tls-key needs --tls-cert"),
        ([], 2, "required: COMMAND"),
    ],
)
def test_errors_are_clear(args, status, words, tmp_path):
    done = cli(*args, cwd=tmp_path)
    assert done.returncode == status
    assert words in done.stderr
    assert "hunter22" not in done.stderr
    assert "Traceback" not in done.stderr


def test_user_disable_ends_the_sessions_and_enable_lets_the_user_in_again(database, db_url):
    ana = User.create(username="ana", password_hash="x", role="clerk")
    now = utcnow()
    for digest in ("a", "b"):
        Session.create(user=ana, token_hash=digest, expires_at=now + timedelta(days=1))

    disabled = cli("user", "disable", "ANA", "--db", db_url)

    assert disabled.returncode == 0, disabled.stderr
    assert "disabled 'ana'" in disabled.stderr and "sessions ended: 2" in disabled.stderr
    assert User.get_by_id(ana.id).disabled
    assert not Session.select().where(Session.revoked_at.is_null()).exists()
    enabled = cli("user", "enable", "ana", "--db", db_url)
    assert enabled.returncode == 0 and not User.get_by_id(ana.id).disabled
    assert not Session.select().where(Session.revoked_at.is_null()).exists(), "still ended"
    unknown = cli("user", "disable", "nobody", "--db", db_url)
    assert unknown.returncode == 1 and "no user is named 'nobody'" in unknown.stderr
