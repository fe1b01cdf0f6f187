"""The command syntax: values, nesting, built-ins, and clear errors for bad lines."""

from datetime import UTC, datetime, timedelta, timezone

import pytest

from client_shell.parse import (
    Builtin,
    OpCall,
    ParseError,
    parse_line,
    split_words,
    with_timestamps,
)


def test_blank_line_is_nothing() -> None:
    assert parse_line("   ") is None


def test_values_by_their_look() -> None:
    command = parse_line(
        "catalog.list limit=2 all=true off=false gone=null n=-3 query=kopi empty= word=12a"
    )
    assert command == OpCall(
        "catalog.list",
        {
            "limit": 2,
            "all": True,
            "off": False,
            "gone": None,
            "n": -3,
            "query": "kopi",
            "empty": "",
            "word": "12a",
        },
    )


def test_quoted_strings_keep_spaces_and_stay_strings() -> None:
    command = parse_line("""x a="kopi susu" b='it''s' c="12" d="tab\\tx" e='{not json}'""")
    assert isinstance(command, OpCall)
    assert command.args == {
        "a": "kopi susu",
        "b": "it''s",
        "c": "12",
        "d": "tab\tx",
        "e": "{not json}",
    }


def test_json_lists_and_maps_may_contain_spaces() -> None:
    command = parse_line('order.checkout payment={"method": "card", "token": "t 1"} ids=[1, 2]')
    assert command == OpCall(
        "order.checkout", {"payment": {"method": "card", "token": "t 1"}, "ids": [1, 2]}
    )


def test_dotted_keys_build_maps() -> None:
    command = parse_line("clerk.sale payment.method=cash payment.tendered=5000 a.b.c=1")
    assert command == OpCall(
        "clerk.sale", {"payment": {"method": "cash", "tendered": 5000}, "a": {"b": {"c": 1}}}
    )


def test_dotted_key_extends_a_json_map() -> None:
    command = parse_line('x payment={"method":"card"} payment.token=t')
    assert command == OpCall("x", {"payment": {"method": "card", "token": "t"}})


def test_builtins_keep_their_words() -> None:
    assert parse_line("\\login customer") == Builtin("login", ("customer",))
    assert parse_line("\\help") == Builtin("help")


def test_split_words_keeps_brackets_and_quotes_whole() -> None:
    assert split_words('a  b=[1, [2, 3]]  c="x ]"') == ["a", "b=[1, [2, 3]]", 'c="x ]"']


def test_a_quote_inside_a_bare_word_is_its_own() -> None:
    assert parse_line("catalog.list query=Kopi's limit=5") == OpCall(
        "catalog.list", {"query": "Kopi's", "limit": 5}
    )
    assert parse_line('x a=b"c d=1') == OpCall("x", {"a": 'b"c', "d": 1})


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("cart.add product_id", "expected key=value, got 'product_id'"),
        ('cart.add name="kopi', 'unterminated " quote'),
        ("cart.add ids=[1, 2", "unclosed bracket: expected ']'"),
        ("cart.add qty=1 qty=2", "argument 'qty' given twice"),
        ("x payment={method: card}", "payment: not valid JSON"),
        ('x a="one"two', "a: not valid JSON"),
        ("x a='one'two", "a: text after the closing quote"),
        ("qty=1", "a command starts with an op name, not 'qty=1'"),
        ("x 1a=2", "bad argument name '1a'"),
        ("x =2", "bad argument name ''"),
        ("x p=1 p.q=2", "p.q: 'p' is already set to a value that is not a map"),
    ],
)
def test_bad_lines_say_why(line: str, message: str) -> None:
    with pytest.raises(ParseError) as caught:
        parse_line(line)
    assert str(caught.value).startswith(message)


def test_a_timestamp_argument_is_sent_as_a_utc_moment():
    args = {"offline_at": "2026-11-30T16:30:00+07:00", "receipt": "K1-1"}
    assert with_timestamps("clerk.sale", args) == {
        "offline_at": datetime(2026, 11, 30, 16, 30, tzinfo=timezone(timedelta(hours=7))),
        "receipt": "K1-1",
    }
    naive = with_timestamps("clerk.sale", {"offline_at": "2026-11-30 09:30"})
    assert naive["offline_at"] == datetime(2026, 11, 30, 9, 30, tzinfo=UTC)
    assert with_timestamps("clerk.sale", {"offline_at": "yesterday"}) == {"offline_at": "yesterday"}
    assert with_timestamps("catalog.get", {"sku": "2026-11-30"}) == {"sku": "2026-11-30"}
