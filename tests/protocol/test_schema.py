import pytest

from protocol.errors import BadRequest
from protocol.ops import REGISTRY, SPECS, Op
from protocol.schema import Int, ListOf, Record, Str, VersionSpec


def check(op, args):
    return REGISTRY[op].args.check(args)


def rule_of(op, args):
    with pytest.raises(BadRequest) as caught:
        check(op, args)
    return caught.value.details


def test_every_op_of_the_contract_is_registered_once():
    assert [s.name for s in SPECS] == list(Op)
    assert all(isinstance(s.args, Record) for s in SPECS)


def test_defaults_are_filled():
    assert check("cart.add", {"product_id": 4}) == {"product_id": 4, "qty": 1}
    assert check("catalog.list", {})["limit"] == 50


def test_missing_unknown_and_wrong_type_name_the_field():
    assert rule_of("cart.set", {"product_id": 1}) == {"field": "qty", "rule": "required"}
    assert rule_of("cart.add", {"product_id": 1, "qtty": 2})["field"] == "qtty"
    assert rule_of("cart.add", {"product_id": "1"})["rule"] == "must be an integer"
    assert rule_of("cart.add", {"product_id": True})["rule"] == "must be an integer"


def test_an_unknown_argument_is_answered_with_the_ones_known():
    with pytest.raises(BadRequest, match=r"unknown argument 'id' \(known: product_id, sku\)"):
        check("catalog.get", {"id": 5})
    with pytest.raises(BadRequest, match=r"'payment.tip' \(known: method, token\)"):
        check("order.checkout", {"idempotency_key": "k", "payment": {"tip": 1}})
    with pytest.raises(BadRequest, match=r"'x' \(known: none\)"):
        check("ping", {"x": 1})


def test_bounds():
    assert rule_of("cart.add", {"product_id": 1, "qty": 0})["field"] == "qty"
    assert check("cart.set", {"product_id": 1, "qty": 0})["qty"] == 0
    assert rule_of("cart.set", {"product_id": 1, "qty": 1001})["field"] == "qty"
    assert rule_of("clerk.adjust", {"product_id": 1, "delta": 0, "reason": "x"})["rule"] == (
        "must not be 0"
    )
    assert rule_of("auth.register", {"username": "ab", "password": "12345678"})["field"] == (
        "username"
    )
    assert rule_of("auth.register", {"username": "Abc", "password": "12345678"})["field"] == (
        "username"
    )


def test_nested_records_and_lists_report_the_path():
    details = rule_of(
        "order.checkout", {"idempotency_key": "k", "payment": {"method": "cash", "token": "t"}}
    )
    assert details["field"] == "payment.method"
    details = rule_of(
        "clerk.sale",
        {
            "lines": [{"sku": "A", "qty": 1}, {"product_id": 2, "qty": 0}],
            "payment": {"method": "cash"},
            "idempotency_key": "k",
        },
    )
    assert details["field"] == "lines[1].qty"


def test_exactly_one_of():
    assert check("catalog.get", {"sku": "KOPI-1"}) == {"sku": "KOPI-1"}
    assert rule_of("catalog.get", {})["rule"] == "exactly_one_of"
    assert rule_of("catalog.get", {"sku": "A", "product_id": 1})["rule"] == "exactly_one_of"
    assert rule_of("stock.subscribe", {"all": False})["field"] == "all"
    assert rule_of("stock.subscribe", {"product_ids": [1, 1]})["rule"] == "must not repeat an item"


def test_hello_version_forms():
    assert check("hello", {"protocol": 1, "client": "c"})["protocol"] == (1, 1)
    assert check("hello", {"protocol": [1, 3], "client": "c"})["protocol"] == (1, 3)
    assert rule_of("hello", {"protocol": [3, 1], "client": "c"})["field"] == "protocol"


def test_days():
    args = check("admin.report.sales", {"from": "2026-01-01", "to": "2026-01-31"})
    assert args["from"].isoformat() == "2026-01-01"
    assert rule_of("admin.report.sales", {"from": "2026-13-01", "to": "2026-01-31"})["field"] == (
        "from"
    )


def test_exactly_one_of_inside_a_list_names_the_full_path():
    details = rule_of(
        "clerk.sale",
        {"lines": [{"qty": 1}], "payment": {"method": "cash"}, "idempotency_key": "k"},
    )
    assert details["field"] == "lines[0].product_id"
    assert details["fields"] == ["lines[0].product_id", "lines[0].sku"]


@pytest.mark.parametrize("day", ["20260101", "2026-W01-1", "2026-1-1", "2026-01-01T00:00"])
def test_days_are_only_yyyy_mm_dd(day):
    assert rule_of("admin.report.sales", {"from": day, "to": "2026-01-31"})["field"] == "from"


def test_a_bad_username_gets_the_readable_rule():
    rule = rule_of("auth.register", {"username": "Ana!", "password": "12345678"})["rule"]
    assert rule.startswith("must be 3 to 32 characters")


def _types(record: Record, prefix: str = ""):
    """(path, type) of every field of `record`, nested ones included (lists as `[0]`)."""
    for field in record.fields:
        path = prefix + field.name
        yield path, field.type
        inner = field.type.item if isinstance(field.type, ListOf) else field.type
        if isinstance(field.type, ListOf):
            yield f"{path}[0]", inner
        if isinstance(inner, Record):
            yield from _types(
                inner, f"{path}[0]." if isinstance(field.type, ListOf) else f"{path}."
            )


STRINGS = [
    (f"{spec.name} {path}", kind)
    for spec in SPECS
    for path, kind in _types(spec.args)
    if isinstance(kind, Str) and kind.choices is None
]
INTS = [
    (f"{spec.name} {path}", kind)
    for spec in SPECS
    for path, kind in _types(spec.args)
    if isinstance(kind, Int | VersionSpec)
]


@pytest.mark.parametrize("where, kind", STRINGS, ids=[where for where, _ in STRINGS])
@pytest.mark.parametrize("text", ["\x00", "kopi\x00", "\x00" * 3])
def test_every_string_argument_refuses_nul(where: str, kind: Str, text: str) -> None:
    with pytest.raises(BadRequest) as refused:
        kind.check(text, "here")
    assert refused.value.details["field"] == "here"
    assert refused.value.details["rule"].startswith("must"), refused.value.details


@pytest.mark.parametrize("where, kind", INTS, ids=[where for where, _ in INTS])
@pytest.mark.parametrize("number", [2**63, 2**64 - 1, -(2**63) - 1])
def test_every_integer_argument_stays_within_64_bits(where: str, kind, number: int) -> None:
    with pytest.raises(BadRequest) as refused:
        kind.check(number, "here")
    assert refused.value.details["field"] == "here"


@pytest.mark.parametrize("control", ["\x01", "\x1b", "\x7f", "\x85", "\x9b", "\t", "\n"])
def test_one_line_strings_refuse_every_control_character(control: str) -> None:
    assert rule_of("catalog.list", {"query": f"kopi{control}"}) == {
        "field": "query",
        "rule": "must not contain control characters",
    }


def test_free_text_takes_tabs_and_line_breaks_but_no_other_control() -> None:
    args = {"product_id": 1, "qty": 1, "reason": "delivery 7\r\n\tbox 2"}
    assert check("clerk.restock", args)["reason"] == "delivery 7\r\n\tbox 2"
    assert rule_of("clerk.restock", {**args, "reason": "a\x1b[2Jb"}) == {
        "field": "reason",
        "rule": "must not contain control characters other than tab and line breaks",
    }


def test_a_password_takes_any_control_but_nul() -> None:
    assert check("auth.login", {"username": "siti", "password": "a\x01\x1bb"})["password"]
    assert rule_of("auth.login", {"username": "siti", "password": "a\x00b"}) == {
        "field": "password",
        "rule": "must not contain NUL",
    }
