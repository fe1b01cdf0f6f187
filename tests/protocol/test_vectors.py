import json
from importlib import resources

import pytest

from protocol.envelope import parse_request
from protocol.errors import BadRequest, FrameTooLarge, MalformedFrame
from protocol.framing import FrameDecoder, Message
from tests.protocol.jsonform import to_json

VECTORS = json.loads(resources.files("protocol").joinpath("testvectors.json").read_text())


def by_kind(*kinds):
    return [pytest.param(v, id=v["name"]) for v in VECTORS["vectors"] if v["kind"] in kinds]


def decode(vector):
    return FrameDecoder(VECTORS["max_frame"]).feed(bytes.fromhex(vector["hex"]))


@pytest.mark.parametrize("vector", by_kind("request", "response", "error", "push"))
def test_valid_vectors_decode_to_their_meaning(vector):
    [event] = decode(vector)
    assert isinstance(event, Message)
    assert to_json(event.body) == vector["decoded"]
    if vector["kind"] == "request":
        request = parse_request(event.body)
        assert (request.id, request.op) == (vector["decoded"]["id"], vector["decoded"]["op"])


@pytest.mark.parametrize("vector", by_kind("invalid"))
def test_invalid_vectors_give_their_error(vector):
    [event] = decode(vector)
    expected = vector["error"]
    if isinstance(event, FrameTooLarge | MalformedFrame):
        assert event.code == expected["code"]
        assert expected["fatal"] is isinstance(event, FrameTooLarge)
        assert expected["id"] is None
        return
    with pytest.raises(BadRequest) as caught:
        parse_request(event.body)
    assert caught.value.code == expected["code"]
    assert caught.value.request_id == expected["id"]
    assert not expected["fatal"]


@pytest.mark.parametrize("vector", by_kind("incomplete"))
def test_incomplete_vectors_wait_for_more(vector):
    decoder = FrameDecoder()
    assert decoder.feed(bytes.fromhex(vector["hex"])) == []
    assert decoder.buffered == len(vector["hex"]) // 2


def test_every_kind_is_covered():
    kinds = {v["kind"] for v in VECTORS["vectors"]}
    assert kinds == {"request", "response", "error", "push", "invalid", "incomplete"}
