"""Invariant 6: nothing a client sends crashes the server or troubles other clients.

Hypothesis throws random bytes and random requests (every op of the registry, with
arguments of random shapes) at a live server; each readable request gets an answer with a
known error code or a result, and a bystander's connection keeps working throughout.
"""

import socket

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from protocol.errors import ErrorCode
from protocol.framing import FrameDecoder, Message, encode
from protocol.ops import REGISTRY
from tests.e2e.raw import RawConnection

CODES = {str(code) for code in ErrorCode}
values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.text(max_size=30)
    | st.binary(max_size=30)
    | st.floats(allow_nan=True),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=10,
)
ops = st.sampled_from(sorted(REGISTRY)) | st.text(max_size=20)


def argument_maps(op: str):
    names = [f.name for f in REGISTRY[op].args.fields] if op in REGISTRY else []
    keys = st.sampled_from(names) | st.text(max_size=8) if names else st.text(max_size=8)
    return st.dictionaries(keys, values, max_size=5)


requests = ops.flatmap(lambda op: st.tuples(st.just(op), argument_maps(op)))
SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@SETTINGS
@given(st.lists(requests, min_size=1, max_size=8))
def test_random_requests_get_answers_with_known_codes(shop, batch):
    conn = shop.raw("customer")
    try:
        ids = [_send(conn, op, args) for op, args in batch]
        for request_id in ids:
            reply = conn.answer(request_id)
            assert reply["ok"] or reply["error"]["code"] in CODES
            assert reply["ok"] or reply["error"]["code"] != "internal", reply
        assert conn.call("ping")["ok"]
    finally:
        conn.close()
    assert shop.proc.poll() is None


def _send(conn: RawConnection, op: str, args: dict) -> int:
    request_id, conn.next_id = conn.next_id, conn.next_id + 1
    conn.send({"id": request_id, "op": op, "args": args})
    return request_id


@SETTINGS
@given(st.binary(min_size=1, max_size=3000))
def test_random_bytes_never_hurt_a_bystander(shop, junk):
    with shop.client("customer") as bystander:
        sock = socket.create_connection(("127.0.0.1", shop.port), timeout=10)
        try:
            sock.sendall(encode({"id": 1, "op": "hello", "args": {"protocol": 1, "client": "f"}}))
            sock.sendall(junk)
            sock.shutdown(socket.SHUT_WR)
            decoder = FrameDecoder(2**24)
            while data := sock.recv(65536):
                for event in decoder.feed(data):
                    assert isinstance(event, Message)
                    error = event.body.get("error")
                    assert error is None or error["code"] in CODES
        except ConnectionResetError:
            pass  # the server may close a connection whose stream it cannot trust
        finally:
            sock.close()
        assert bystander.call("ping")["time"]
    assert shop.proc.poll() is None
