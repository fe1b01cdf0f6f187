"""Database URLs: `sqlite:///relative.db`, `sqlite:////absolute.db`, `postgresql://...`.

A URL is parsed once into a `DatabaseURL`; everything that reports a URL to a person uses
`DatabaseURL.redacted()` (or `describe()`), so a password never reaches a log or a terminal.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, quote, unquote, urlsplit

ENV_VAR = "WARUNG_DB"
DEFAULT_URL = "sqlite:///warung.db"

# libpq connection parameters that may ride in a postgresql:// URL's query string
# (e.g. `?options=-csearch_path%3Dshop` or `?sslmode=require`); anything else is a typo
# that libpq would only reject at connect time with a less helpful message.
PG_QUERY_PARAMS = frozenset(
    {
        "application_name",
        "connect_timeout",
        "options",
        "passfile",
        "sslcert",
        "sslkey",
        "sslmode",
        "sslrootcert",
        "target_session_attrs",
    }
)


class DatabaseURLError(ValueError):
    """The database URL cannot be used; the message names it (without its password)."""


@dataclass(frozen=True)
class DatabaseURL:
    """A parsed database URL. `kind` is "sqlite" or "postgresql"."""

    kind: str
    path: str = ""  # sqlite: the file path as given (relative or absolute), or ":memory:"
    host: str | None = None
    port: int | None = None
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    dbname: str = ""
    params: tuple[tuple[str, str], ...] = ()  # postgresql: libpq parameters from the query

    def redacted(self) -> str:
        """The URL with any password replaced by `***`."""
        return self._format("***" if self.password is not None else None)

    def without_password(self) -> str:
        """The URL with no password at all (to hand to libpq tools along with PGPASSWORD)."""
        return self._format(None)

    def _format(self, password: str | None) -> str:
        if self.kind == "sqlite":
            return f"sqlite:///{self.path}"
        auth = ""
        if self.user:
            auth = quote(self.user, safe="")
            if password is not None:
                auth += f":{password}"
            auth += "@"
        host = self.host or ""
        if ":" in host:
            host = f"[{host}]"
        port = f":{self.port}" if self.port else ""
        query = "&".join(f"{k}={quote(v, safe='')}" for k, v in self.params)
        return f"postgresql://{auth}{host}{port}/{quote(self.dbname, safe='')}" + (
            f"?{query}" if query else ""
        )

    def describe(self) -> str:
        """A short human description: the SQLite file, or PostgreSQL host, port and database."""
        if self.kind == "sqlite":
            return f"SQLite database {self.path}"
        where = f"{self.host or 'local socket'}:{self.port or 5432}"
        who = f" as user {self.user}" if self.user else ""
        return f"PostgreSQL database {self.dbname!r} at {where}{who}"


def resolve(url: str | None) -> str:
    """The URL to use: `url` if given, else `$WARUNG_DB`, else `sqlite:///warung.db`."""
    return url or os.environ.get(ENV_VAR) or DEFAULT_URL


def parse_url(url: str) -> DatabaseURL:
    """Parse `url`, raising `DatabaseURLError` with the reason when it is not usable."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise DatabaseURLError(
            f"{_safe(url)!r} is not a database URL: expected sqlite:///FILE or "
            "postgresql://USER@HOST:PORT/DBNAME"
        )
    scheme = scheme.lower()
    if scheme == "sqlite":
        return _parse_sqlite(url, rest)
    if scheme in ("postgresql", "postgres"):
        return _parse_postgresql(url)
    raise DatabaseURLError(
        f"unsupported database URL scheme {scheme!r} in {_safe(url)!r}: use sqlite or postgresql"
    )


def _parse_sqlite(url: str, rest: str) -> DatabaseURL:
    if not rest.startswith("/"):
        raise DatabaseURLError(
            f"SQLite URL {url!r} names a host; write sqlite:///relative.db "
            "or sqlite:////absolute/path.db"
        )
    path = rest[1:]
    if "?" in path or "#" in path:
        raise DatabaseURLError(f"SQLite URL {url!r} may not carry a query string or fragment")
    if not path or path.endswith("/"):
        raise DatabaseURLError(f"SQLite URL {url!r} names no file")
    return DatabaseURL(kind="sqlite", path=unquote(path))


def _parse_postgresql(url: str) -> DatabaseURL:
    shown = _safe(url)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise DatabaseURLError(f"bad PostgreSQL URL {shown!r}: {exc}") from None
    dbname = unquote(parts.path.lstrip("/"))
    if not dbname or "/" in dbname:
        raise DatabaseURLError(
            f"PostgreSQL URL {shown!r} must name one database: postgresql://USER@HOST:PORT/DBNAME"
        )
    if parts.fragment:
        raise DatabaseURLError(f"PostgreSQL URL {shown!r} may not carry a fragment")
    try:
        params = tuple(parse_qsl(parts.query, keep_blank_values=True, strict_parsing=True))
    except ValueError:
        raise DatabaseURLError(f"bad query string in PostgreSQL URL {shown!r}") from None
    unknown = sorted({k for k, _ in params} - PG_QUERY_PARAMS)
    if unknown:
        raise DatabaseURLError(
            f"unknown parameter(s) {', '.join(unknown)} in PostgreSQL URL {shown!r}; "
            f"allowed: {', '.join(sorted(PG_QUERY_PARAMS))}"
        )
    return DatabaseURL(
        kind="postgresql",
        host=unquote(parts.hostname) if parts.hostname else None,
        port=port,
        user=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password is not None else None,
        dbname=dbname,
        params=params,
    )


def _safe(url: str) -> str:
    """`url` with the password part of `user:password@` masked, for error messages."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    netloc, slash, tail = rest.partition("/")
    auth, at, hostport = netloc.rpartition("@")
    if at and ":" in auth:
        auth = auth.split(":", 1)[0] + ":***"
    return f"{scheme}{sep}{auth}{at}{hostport}{slash}{tail}"
