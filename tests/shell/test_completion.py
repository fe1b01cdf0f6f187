"""Completion of op names, argument names and value choices."""

from prompt_toolkit.completion import CompleteEvent
from prompt_toolkit.document import Document

from client_shell.completion import ShellCompleter
from client_shell.offered import offered_ops
from protocol.ops import REGISTRY


def complete(text: str, offered: list[str] | None = None) -> list[str]:
    completer = ShellCompleter() if offered is None else ShellCompleter(lambda: offered)
    found = completer.get_completions(Document(text), CompleteEvent(completion_requested=True))
    return [text[: len(text) + c.start_position] + c.text for c in found]


def test_op_names_from_the_registry() -> None:
    assert complete("cart.") == [
        "cart.add",
        "cart.clear",
        "cart.get",
        "cart.remove",
        "cart.set",
    ]


def test_builtins_complete_too() -> None:
    assert complete("\\he") == ["\\help"]
    assert complete("\\events o") == ["\\events on", "\\events off"]
    assert complete("\\help order.c") == ["\\help order.cancel", "\\help order.checkout"]


def test_argument_names_with_equals() -> None:
    assert complete("cart.add ") == ["cart.add product_id=", "cart.add qty="]
    assert complete("cart.add q") == ["cart.add qty="]


def test_argument_names_already_given_are_left_out() -> None:
    assert complete("cart.add product_id=3 ") == ["cart.add product_id=3 qty="]


def test_nested_fields_complete_with_dots() -> None:
    assert complete("order.checkout pay") == [
        "order.checkout payment=",
        "order.checkout payment.method=",
        "order.checkout payment.token=",
    ]


def test_choices_of_a_string_value() -> None:
    assert complete("order.checkout payment.method=") == [
        "order.checkout payment.method=card",
        "order.checkout payment.method=ewallet",
    ]
    assert complete("order.list status=s") == ["order.list status=shipped"]
    assert complete("admin.user.disable disabled=") == [
        "admin.user.disable disabled=true",
        "admin.user.disable disabled=false",
    ]


def test_meta_shows_the_type() -> None:
    document = Document("cart.add ")
    metas = {
        c.text: c.display_meta_text
        for c in ShellCompleter().get_completions(document, CompleteEvent())
    }
    assert metas == {"product_id=": "int 1..9007199254740992, required", "qty=": "int 1..1000"}


def test_nothing_for_an_unknown_op_or_a_free_value() -> None:
    assert complete("no.such ") == []
    assert complete("cart.add qty=") == []


def test_only_the_ops_the_server_offers_complete() -> None:
    offered = offered_ops({"ops": ["cart.add", "cart.get", "hello", "no.such.op"]})
    assert offered == ["cart.add", "cart.get", "hello"], "an op this shell cannot call is left out"
    assert complete("cart.", offered) == ["cart.add", "cart.get"]
    assert complete("\\help cart.", offered) == ["\\help cart.add", "\\help cart.get"]
    assert complete("cart.set ", offered) == [], "no arguments of an op not offered"
    assert complete("cart.add ", offered) == ["cart.add product_id=", "cart.add qty="]


def test_a_server_that_sends_no_ops_offers_the_whole_registry() -> None:
    assert offered_ops({"protocol": 1}) == sorted(REGISTRY)
    assert offered_ops({}) == sorted(REGISTRY)
