"""Rendering of results, errors and pushes, and the help text."""

from datetime import UTC, date, datetime

from client_shell.helptext import op_help, ops_overview
from client_shell.render import render_error, render_push, render_value
from protocol.client import Push
from protocol.errors import BadRequest, NotFound
from protocol.ops import REGISTRY


def test_values_are_sorted_json_with_hex_bytes_and_iso_times() -> None:
    value = {
        "b": b"\x01\xff",
        "a": [datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), date(2026, 1, 2)],
        "c": (1, "kopi ☕"),
    }
    assert render_value(value) == "\n".join(
        [
            "{",
            '  "a": [',
            '    "2026-01-02T03:04:05+00:00",',
            '    "2026-01-02"',
            "  ],",
            '  "b": "01ff",',
            '  "c": [',
            "    1,",
            '    "kopi ☕"',
            "  ]",
            "}",
        ]
    )


def test_error_with_and_without_details() -> None:
    assert render_error(NotFound("no product 9")) == "error not_found: no product 9"
    text = render_error(BadRequest("bad limit", {"field": "limit"}))
    assert text == 'error bad_request: bad limit\ndetails: {\n  "field": "limit"\n}'


def test_push_on_one_line() -> None:
    push = Push("stock", 4, {"stock": 2, "product_id": 1})
    assert render_push(push) == 'event stock #4: {"product_id": 1, "stock": 2}'


def test_overview_lists_every_op_with_roles() -> None:
    text = ops_overview(sorted(REGISTRY))
    for name in REGISTRY:
        assert name in text
    assert "cart.add" in text and "[customer]" in text
    assert "[anyone]" in text and "[signed in]" in text and "\\login" in text


def test_op_help_shows_types_bounds_defaults_and_nesting() -> None:
    assert op_help(REGISTRY["cart.add"]).splitlines() == [
        "cart.add: add units of a product to the cart",
        "who: customer",
        "arguments:",
        "  product_id  int 1..9007199254740992 (required)",
        "  qty  int 1..1000 (default 1)",
    ]
    checkout = op_help(REGISTRY["order.checkout"])
    assert "    payment.method  card | ewallet (required)" in checkout
    assert "give exactly one of: product_id, sku" in op_help(REGISTRY["catalog.get"])
    assert op_help(REGISTRY["ping"]).endswith("no arguments")


def test_help_is_broken_between_words_for_the_terminal() -> None:
    text = ops_overview(sorted(REGISTRY), columns=60)
    lines = text.splitlines()
    assert all(len(line) < 60 for line in lines), [line for line in lines if len(line) >= 60]
    words = " ".join(text.split())
    assert " ".join(ops_overview(sorted(REGISTRY), columns=500).split()) == words, "no word cut"
    assert "[signed in]" in text, "the roles are one word to wrap"
    indent = next(line for line in lines if line.startswith(" " * 8))
    assert indent.strip(), "a long summary goes on under itself"
    assert all(len(line) < 60 for line in op_help(REGISTRY["clerk.sale"], 60).splitlines())
