import pytest

from protocol.codec import packb
from protocol.envelope import PushTemplate, failure, parse_request, push, success
from protocol.errors import BadRequest, ErrorCode
from protocol.framing import encode
from protocol.ops import Op
from tests.server.frames import bodies


def test_a_request_parses_and_args_default_to_empty():
    req = parse_request({"id": 5, "op": "ping"})
    assert (req.id, req.op, req.args) == (5, "ping", {})


@pytest.mark.parametrize(
    ("body", "request_id", "field"),
    [
        ({"op": "ping"}, None, "id"),
        ({"id": True, "op": "ping"}, None, "id"),
        ({"id": -1, "op": "ping"}, None, "id"),
        ({"id": 1.0, "op": "ping"}, None, "id"),
        ({"id": 3, "op": ""}, 3, "op"),
        ({"id": 3, "op": 7}, 3, "op"),
        ({"id": 3, "op": "ping", "args": None}, 3, "args"),
        ({"id": 3, "op": "ping", "args": {}, "x": 1}, 3, "x"),
    ],
)
def test_bad_envelopes_say_which_field_and_keep_a_usable_id(body, request_id, field):
    with pytest.raises(BadRequest) as caught:
        parse_request(body)
    assert caught.value.request_id == request_id
    assert caught.value.details["field"] == field
    assert caught.value.code == ErrorCode.BAD_REQUEST


def test_an_op_name_too_long_says_its_length_and_the_bound():
    with pytest.raises(BadRequest) as caught:
        parse_request({"id": 3, "op": "x" * 65})
    assert str(caught.value) == "'op' must be a string of 1 to 64 characters, got 65 characters"


def test_replies_and_pushes_have_the_contract_shape():
    assert success(1, {}) == {"id": 1, "ok": True, "result": {}}
    assert failure(None, ErrorCode.TOO_LARGE, "m") == {
        "id": None,
        "ok": False,
        "error": {"code": "too_large", "message": "m", "details": {}},
    }
    assert push("stock", 3, {"a": 1}) == {"event": "stock", "seq": 3, "data": {"a": 1}}


@pytest.mark.parametrize("seq", [1, 127, 128, 65_536, 2**32 + 1])
def test_push_template_frames_equal_a_fresh_encode(seq):
    data = {"product_id": 9, "stock": 3, "version": 12}
    template = PushTemplate("stock", data)
    assert template.frame(seq) == encode(push("stock", seq, data))
    assert bodies(template.frame(seq)) == [{"event": "stock", "seq": seq, "data": data}]


def test_enum_names_encode_as_plain_strings():
    assert packb(Op.CART_ADD) == packb("cart.add")
    assert packb(ErrorCode.CONFLICT) == packb("conflict")
