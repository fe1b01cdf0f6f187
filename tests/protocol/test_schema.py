import pytest

from protocol.errors import BadRequest
from protocol.ops import REGISTRY, SPECS, Op
from protocol.schema import Record


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
