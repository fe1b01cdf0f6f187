"""Errors echo at most a short excerpt of what the client sent (issue 14, item 5).

A 1 MB argument name used to come back twice in the answer, as `repr()` for a bin key: an
8 MB answer to a 1 MB request, over the client's `max_frame` and the server's own.
"""

from typing import Any

import pytest

from protocol.codec import packb
from tests.e2e.raw import RawConnection

BIG = 1_000_000
ANSWER_BOUND = 1024  # bytes: a few short excerpts and the error's own words


@pytest.fixture
def raw(shop):
    conn = RawConnection(shop.port)
    conn.hello()
    yield conn
    conn.close()


def refused(conn: RawConnection, message: dict[str, Any]) -> dict[str, Any]:
    conn.send(message)
    answer = conn.answer(message["id"])
    assert answer["ok"] is False and answer["error"]["code"] == "bad_request", answer
    assert len(packb(answer)) < ANSWER_BOUND
    return answer["error"]


def test_a_huge_unknown_argument_name_is_answered_with_an_excerpt(raw):
    error = refused(raw, {"id": 7, "op": "ping", "args": {"k" * BIG: 1}})
    assert error["details"]["rule"] == "unknown"
    assert error["details"]["field"].startswith("k" * 64)
    assert f"({BIG} chars)" in error["details"]["field"]
    assert raw.call("ping")["ok"] is True


def test_a_huge_bin_argument_name_is_shown_by_its_length(raw):
    error = refused(raw, {"id": 8, "op": "ping", "args": {b"\x00" * BIG: 1}})
    assert error["details"] == {"field": f"<bytes {BIG}>", "rule": "unknown"}
    assert raw.call("ping")["ok"] is True


def test_many_huge_unknown_envelope_keys_are_named_in_short(raw):
    keys = {chr(ord("a") + i) * (BIG // 8): 1 for i in range(6)}
    error = refused(raw, {"id": 9, "op": "ping", **keys})
    assert error["details"]["field"].startswith("a" * 64)
    assert "and 3 more" in error["message"]
    assert raw.call("ping")["ok"] is True


def test_an_unknown_op_name_is_shown_printable(raw):
    error = refused(raw, {"id": 10, "op": "no\x1b[2J\x00op"})
    assert "'no?[2J?op'" in error["message"]
    assert raw.call("ping")["ok"] is True


def test_an_unknown_sku_is_named_printable(raw, shop):
    """A SKU is text the client chose: the answer names it as an excerpt, a bidi override
    (which would turn the rest of a log line or a screen around) shown as `?`."""
    assert raw.call("auth.login", username="customer", password=shop.passwords["customer"])["ok"]
    raw.send({"id": 11, "op": "catalog.get", "args": {"sku": "\u202e" + "x" * 63}})
    answer = raw.answer(11)
    assert answer["error"]["code"] == "not_found"
    assert answer["error"]["details"] == {"kind": "product", "id": "?" + "x" * 63}
    assert "\u202e" not in answer["error"]["message"]
    assert raw.call("ping")["ok"] is True
