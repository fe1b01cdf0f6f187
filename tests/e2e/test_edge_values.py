"""Edge values in every argument of every op reach no `internal` error, on SQLite and on
PostgreSQL, and leave the connection usable (issue 14 item 8).

Each op is called as a role allowed to run it, with valid arguments (real ids of the demo
shop) except one field, set to an edge value: integers at and past the 64-bit limits, NUL
and other control characters, a Unicode digit, a 20-digit number, a lone surrogate (its
UTF-8 bytes are not UTF-8, so the whole body is refused, section 4), a long string, nothing.
Before the schema refused them, a NUL reached PostgreSQL (which cannot store it), an
`internal` answer with a logged traceback each, and matched every product on SQLite.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from protocol.codec import packb
from protocol.framing import encode
from protocol.ops import CUSTOMER, REGISTRY, Op, OpSpec
from protocol.schema import (
    Bool,
    Day,
    Field,
    Int,
    ListOf,
    Record,
    Str,
    Timestamp,
    Type,
    VersionSpec,
)
from server.services.catalog import _scope_key as catalog_scope
from tests.conftest import fresh_pg_schema
from tests.e2e.harness import ServerProcess, Servers
from tests.e2e.raw import RawConnection

SURROGATE = "\x01SURROGATE\x01"  # replaced by the UTF-8 bytes of U+D800 on the wire
EDGE_VALUES = {
    "int64_max": 2**63 - 1,
    "int64_max_plus_1": 2**63,
    "uint64_max": 2**64 - 1,
    "int64_min": -(2**63),
    "minus_one": -1,
    "zero": 0,
    "past_2_53": 2**53 + 1,
    "empty": "",
    "nul": "\x00",
    "nul_inside": "kopi\x00tubruk",
    "escape": "\x1b[2J",
    "delete": "a\x7fb",
    "superscript_two": "\u00b2",
    "twenty_digits": "9" * 20,
    "arabic_digits": "\u0661\u0662\u0663",
    "lone_surrogate": SURROGATE,
    "astral": "\U0001f600" * 64,
    "last_day": "9999-12-31",
    "first_day": "0001-01-01",
    "long": "x" * 100_000,
    "epoch": datetime(1970, 1, 1, tzinfo=UTC),
    "last_microsecond": datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    "empty_list": [],
    "empty_map": {},
}
REFUSED_EVERYWHERE = [
    EDGE_VALUES[name] for name in ("int64_max_plus_1", "uint64_max", "nul", "nul_inside")
]
"""Values no argument of any type may hold: each is refused naming its place."""
CONTROLS = [EDGE_VALUES["escape"], EDGE_VALUES["delete"]]
"""Refused everywhere too, but in a password (which may hold any control character but NUL)."""
FIELD_OPS = sorted(name for name, spec in REGISTRY.items() if spec.args.fields)


@pytest.fixture(scope="module", params=["sqlite", pytest.param("pg", marks=pytest.mark.pg)])
def shop(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    with Servers(tmp_path_factory.mktemp("edge")) as started:
        if request.param == "sqlite":
            yield Shop(started.start())
        else:
            with fresh_pg_schema("edge") as url:
                yield Shop(started.start(db_url=url))
                started.stop()


class Shop:
    """A running server with a signed-in connection per role and real ids to refer to."""

    def __init__(self, server: ServerProcess) -> None:
        self.server = server
        self.conns = {role: server.raw(role) for role in ("customer", "clerk", "admin")}
        customer = self.conns["customer"]
        product = _ok(customer.call("catalog.list", limit=1))["items"][0]
        _ok(customer.call("cart.add", product_id=product["id"], qty=1))
        order = _ok(
            customer.call(
                "order.checkout",
                idempotency_key=secrets.token_hex(8),
                payment={"method": "card", "token": "tok"},
            )
        )
        self.ids = {
            "product_id": product["id"],
            "category_id": product["category_id"],
            "order_id": order["id"],
            "user_id": 999_999,  # no such user: an account op must not touch a real one
        }
        self.sku = product["sku"]

    def connection(self, spec: OpSpec) -> RawConnection:
        if not spec.roles or spec.roles == CUSTOMER:
            return self.conns["customer"]
        return self.conns["clerk" if "clerk" in spec.roles else "admin"]

    def tracebacks(self) -> int:
        return sum("Traceback" in line for line in self.server.log)


def _ok(reply: dict[str, Any]) -> Any:
    assert reply["ok"], reply
    return reply["result"]


def valid(shop: Shop, field: Field) -> Any:
    """A valid value for `field` that refers to the shop's real rows."""
    if field.name in shop.ids:
        return shop.ids[field.name]
    return _valid_type(shop, field.name, field.type)


def _valid_type(shop: Shop, name: str, kind: Type) -> Any:
    samples = {
        "sku": shop.sku,
        "username": "edge_user",
        "idempotency_key": secrets.token_hex(8),
        "totp": "123456",
        "code": "123456",
        "tracking": "TRK-1",
        "token": "tok",
        "method": "card",
        "receipt": "EDGE-1",
    }
    if name in samples:
        return samples[name]
    if isinstance(kind, Record):
        return valid_args(shop, kind)
    if isinstance(kind, ListOf):
        return [_valid_type(shop, name, kind.item)]
    if isinstance(kind, Str):
        return kind.choices[0] if kind.choices else "e" * max(kind.min_len, 1)
    if isinstance(kind, Int):
        return max(kind.min, 1)
    if isinstance(kind, Bool):
        return True if kind.only is None else kind.only
    if isinstance(kind, Day):
        return "2026-01-01"
    if isinstance(kind, VersionSpec):
        return 1
    if isinstance(kind, Timestamp):
        return datetime.now(UTC)
    raise AssertionError(f"no valid sample for {name}: {kind}")


def valid_args(shop: Shop, record: Record, keep: str | None = None) -> dict[str, Any]:
    """Every required field, one of each `one_of` group (`keep` if it is in one)."""
    dropped = {
        name
        for group in record.one_of
        for name in group
        if name != (keep if keep in group else group[0])
    }
    return {f.name: valid(shop, f) for f in record.fields if f.name not in dropped}


def edge_args(
    shop: Shop, record: Record, value: Any, prefix: str = ""
) -> Iterator[tuple[str, dict[str, Any]]]:
    """(path, arguments): valid arguments with `value` at `path`, for each field and each
    field nested in one (a list's first item), paths written as the schema names them."""
    for field in record.fields:
        path = prefix + field.name
        yield path, {**valid_args(shop, record, field.name), field.name: value}
        listed = isinstance(field.type, ListOf)
        inner = field.type.item if isinstance(field.type, ListOf) else field.type
        if listed:
            yield f"{path}[0]", {**valid_args(shop, record, field.name), field.name: [value]}
        if isinstance(inner, Record):
            for sub, nested in edge_args(
                shop, inner, value, f"{path}[0]." if listed else f"{path}."
            ):
                yield (
                    sub,
                    {
                        **valid_args(shop, record, field.name),
                        field.name: [nested] if listed else nested,
                    },
                )


def send(conn: RawConnection, op: str, args: dict[str, Any]) -> int:
    request_id, conn.next_id = conn.next_id, conn.next_id + 1
    frame = encode({"id": request_id, "op": op, "args": args})
    marker = packb(SURROGATE)
    if marker in frame:  # msgpack's packer refuses a lone surrogate: put its UTF-8 in by hand
        body = frame[4:].replace(marker, b"\xa3\xed\xa0\x80")
        frame = len(body).to_bytes(4, "big") + body
    conn.send_bytes(frame)
    return request_id


@pytest.mark.parametrize("value", list(EDGE_VALUES.values()), ids=list(EDGE_VALUES))
@pytest.mark.parametrize("op", FIELD_OPS)
def test_an_edge_value_in_any_argument_gets_no_internal_error(
    shop: Shop, op: str, value: Any
) -> None:
    spec = REGISTRY[op]
    before = shop.tracebacks()
    for path, args in edge_args(shop, spec.args, value):
        fresh = op == Op.HELLO  # a failed hello closes its connection: one each
        conn = RawConnection(shop.server.port) if fresh else shop.connection(spec)
        try:
            request_id = send(conn, op, args)
            if value == SURROGATE:  # not UTF-8: the body is refused before its id is read
                reply = conn.answer(None)
                assert reply["error"]["details"] == {"reason": "msgpack"}, reply
            else:
                reply = conn.answer(request_id)
            assert reply["ok"] or reply["error"]["code"] != "internal", (path, reply)
            if value in REFUSED_EVERYWHERE or (value in CONTROLS and path != "password"):
                assert not reply["ok"] and reply["error"]["code"] == "bad_request", (path, reply)
                assert reply["error"]["details"]["field"] == path, reply
            if fresh and not reply["ok"]:
                conn.close()
                conn = RawConnection(shop.server.port)
                conn.hello()
            assert conn.call("ping")["ok"], path
        finally:
            if fresh:
                conn.close()
    assert shop.tracebacks() == before, "".join(shop.server.log[-40:])


def forge(scope: str, position: tuple[Any, ...], version: int) -> str:
    """A cursor built by hand from the format (open source) with a tag anyone can compute:
    the unkeyed hash the server used before (version 1), or it under the new version."""
    digest = hashlib.sha256(packb([scope, *position]))
    tag = digest.hexdigest()[:12] if version == 1 else digest.digest()[:16]
    return base64.urlsafe_b64encode(packb([version, tag, *position])).decode().rstrip("=")


FORGED = [
    pytest.param("order.subscribe", "order.subscribe", {}, (5,), id="feed-5"),
    pytest.param("order.subscribe", "order.subscribe", {}, (2**63,), id="feed-2^63"),
    pytest.param("order.subscribe", "order.subscribe", {}, (2**64 - 1,), id="feed-2^64-1"),
    pytest.param("catalog.list", catalog_scope(None, ""), {}, ("\u00b2", 1), id="catalog-sup2"),
    pytest.param(
        "catalog.list", catalog_scope(None, ""), {}, ("9" * 20, 2**64 - 1), id="catalog-20-digits"
    ),
    pytest.param(
        "catalog.list",
        catalog_scope(None, "kopi"),
        {"query": "kopi"},
        ("", 2**63 - 1),
        id="catalog-query-int64-max",
    ),
]


@pytest.mark.parametrize("version", [1, 2])
@pytest.mark.parametrize(("op", "scope", "args", "position"), FORGED)
def test_a_forged_cursor_is_refused_naming_the_cursor(
    shop: Shop, op: str, scope: str, args: dict[str, Any], position: tuple[Any, ...], version: int
) -> None:
    """Before cursors were signed with the shop's key, a forged cursor was read: one for a
    position of the client's choosing was served, one with an id past 64 bits answered
    `internal` with a traceback."""
    before = shop.tracebacks()
    conn = shop.connection(REGISTRY[op])
    reply = conn.call(op, cursor=forge(scope, position, version), **args)
    assert not reply["ok"] and reply["error"]["code"] == "bad_request", reply
    assert reply["error"]["details"]["field"] == "cursor"
    assert reply["error"]["details"]["rule"] in ("invalid", "not issued for this listing")
    assert conn.call("ping")["ok"]
    assert shop.tracebacks() == before, "".join(shop.server.log[-40:])
