import pytest

from db.url import DEFAULT_URL, DatabaseURLError, parse_url, resolve


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("sqlite:///warung.db", "warung.db"),
        ("sqlite:///data/shop.db", "data/shop.db"),
        ("sqlite:////var/lib/warung/shop.db", "/var/lib/warung/shop.db"),
        ("SQLite:///a%20b.db", "a b.db"),
        ("sqlite:///:memory:", ":memory:"),
    ],
)
def test_sqlite_urls(url, path):
    parsed = parse_url(url)
    assert (parsed.kind, parsed.path) == ("sqlite", path)


def test_postgresql_url_parts_and_redaction():
    parsed = parse_url("postgresql://shop:s%40cret@db.example:5433/warung?sslmode=require")
    assert (parsed.host, parsed.port, parsed.user, parsed.password, parsed.dbname) == (
        "db.example",
        5433,
        "shop",
        "s@cret",
        "warung",
    )
    assert parsed.params == (("sslmode", "require"),)
    assert "s@cret" not in repr(parsed)
    assert parsed.redacted() == "postgresql://shop:***@db.example:5433/warung?sslmode=require"
    assert parsed.describe() == "PostgreSQL database 'warung' at db.example:5433 as user shop"


def test_postgres_alias_and_defaults():
    parsed = parse_url("postgres:///shop")
    assert (parsed.kind, parsed.host, parsed.port, parsed.user) == ("postgresql", None, None, None)
    assert parsed.describe() == "PostgreSQL database 'shop' at local socket:5432"


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("warung.db", "not a database URL"),
        ("mysql://root@localhost/shop", "unsupported database URL scheme 'mysql'"),
        ("sqlite://host/shop.db", "names a host"),
        ("sqlite:///", "names no file"),
        ("sqlite:///dir/", "names no file"),
        ("sqlite:///shop.db?mode=ro", "query string"),
        ("postgresql://u@h:5432/", "must name one database"),
        ("postgresql://u@h:port/shop", "bad PostgreSQL URL"),
        ("postgresql://u@h/shop?sslmod=require", "unknown parameter(s) sslmod"),
    ],
)
def test_bad_urls_are_named(url, words):
    with pytest.raises(DatabaseURLError) as info:
        parse_url(url)
    assert words in str(info.value)


def test_bad_url_message_hides_password():
    with pytest.raises(DatabaseURLError) as info:
        parse_url("postgresql://u:hunter22@h:notaport/shop")
    assert "hunter22" not in str(info.value)
    assert "u:***@h:notaport/shop" in str(info.value)


def test_resolve_prefers_argument_then_environment(monkeypatch):
    monkeypatch.delenv("WARUNG_DB", raising=False)
    assert resolve(None) == DEFAULT_URL
    monkeypatch.setenv("WARUNG_DB", "sqlite:///env.db")
    assert resolve(None) == "sqlite:///env.db"
    assert resolve("sqlite:///arg.db") == "sqlite:///arg.db"
