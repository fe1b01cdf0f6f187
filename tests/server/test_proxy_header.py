"""The PROXY protocol parser, on the examples of HAProxy's doc/proxy-protocol.txt."""

import struct

import pytest

from protocol.framing import frame
from protocol.rules import DEFAULT_MAX_FRAME
from server.proxy_header import (
    V1_MAX,
    V2_MAX_LENGTH,
    V2_SIGNATURE,
    BadProxyHeader,
    ProxyHeader,
    ProxyHeaderParser,
    begins_proxy_header,
)

HELLO = frame(b"\x80")  # what follows a header: the stream's first frame
FFFF6 = ":".join(["ffff"] * 8)
# HAProxy's send-proxy-v2, captured: TCP over IPv4, 172.19.0.1:42578 -> 172.19.0.3:80
CAPTURED_V2 = bytes.fromhex("0d0a0d0a000d0a515549540a 2111000c ac130001 ac130003 a652 0050")


def parse(data: bytes):
    return ProxyHeaderParser().feed(data)


def v2(command: int, family: int, block: bytes, length: int | None = None) -> bytes:
    size = len(block) if length is None else length
    return V2_SIGNATURE + struct.pack(">BBH", 0x20 | command, family, size) + block


def ipv4_block(source: str, port: int) -> bytes:
    octets = bytes(int(part) for part in source.split("."))
    return octets + bytes([192, 0, 2, 1]) + struct.pack(">HH", port, 7411)


@pytest.mark.parametrize(
    ("line", "client"),
    [
        (b"PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n", ("192.168.0.1", 56324)),
        (b"PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n", ("255.255.255.255", 65535)),
        (f"PROXY TCP6 {FFFF6} {FFFF6} 65535 65535\r\n".encode(), (FFFF6, 65535)),
        (b"PROXY TCP6 2001:db8::1 2001:db8::2 0 7411\r\n", ("2001:db8::1", 0)),
        (b"PROXY TCP6 ::ffff:198.51.100.7 ::1 1 2\r\n", ("198.51.100.7", 1)),
        (b"PROXY UNKNOWN\r\n", None),
        (f"PROXY UNKNOWN {FFFF6} {FFFF6} 65535 65535\r\n".encode(), None),
    ],
)
def test_v1_headers_of_the_spec_name_the_client_and_keep_what_follows(line, client):
    assert parse(line + HELLO) == ProxyHeader(1, client, HELLO)


def test_the_longest_v1_header_is_the_specs_107_bytes_and_one_more_is_refused():
    longest = f"PROXY UNKNOWN {FFFF6} {FFFF6} 65535 65535\r\n".encode()
    assert len(longest) == V1_MAX
    assert parse(longest) == ProxyHeader(1, None, b"")
    too_long = b"PROXY UNKNOWN " + b"f" * (V1_MAX - 14)
    result = parse(too_long)
    assert isinstance(result, BadProxyHeader)
    assert "longer than 107 bytes" in result.problem


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        (b"PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\n", "CRLF"),
        (b"PROXY TCP5 192.168.0.1 192.168.0.11 56324 443\r\n", "PROXY TCP4|TCP6"),
        (b"PROXY TCP4 192.168.0.1  192.168.0.11 56324 443\r\n", "PROXY TCP4|TCP6"),
        (b"PROXY TCP4 192.168.0.1 192.168.0.11 56324\r\n", "PROXY TCP4|TCP6"),
        (b"PROXY TCP4 2001:db8::1 192.168.0.11 56324 443\r\n", "bad TCP4 address"),
        (b"PROXY TCP6 192.168.0.1 2001:db8::1 56324 443\r\n", "bad TCP6 address"),
        (b"PROXY TCP4 192.168.0.1 192.168.0.11 65536 443\r\n", "or port"),
        (b"PROXY TCP4 192.168.0.1 192.168.0.11 -1 443\r\n", "or port"),
        (b"PROXY TCP4 192.168.0.01 192.168.0.11 1 443\r\n", "bad TCP4 address"),
        (b"PROXY TCP4 192.168.0.1 192.168.0.11 \xef\xbc\x95 443\r\n", "ASCII"),  # a fullwidth 5
        (b"PROXY\r\n", "no PROXY header"),
        (b"GET / HTTP/1.0\r\n", "no PROXY header"),
        (HELLO, "no PROXY header"),
    ],
)
def test_malformed_v1_headers_are_refused_saying_why(line, problem):
    result = parse(line)
    assert isinstance(result, BadProxyHeader), result
    assert problem in result.problem
    assert result.seen and all(c.isprintable() for c in result.seen)


def test_a_v2_header_captured_from_haproxy():
    assert parse(CAPTURED_V2 + b"GET /") == ProxyHeader(2, ("172.19.0.1", 42578), b"GET /")


@pytest.mark.parametrize(
    ("header", "client"),
    [
        (v2(1, 0x11, ipv4_block("203.0.113.9", 5000)), ("203.0.113.9", 5000)),
        (
            v2(
                1,
                0x21,
                bytes.fromhex("20010db8" + "00" * 11 + "07") + bytes(16) + b"\x00\x05\x00\x06",
            ),
            ("2001:db8::7", 5),
        ),
        (
            v2(1, 0x21, bytes(10) + b"\xff\xff" + bytes([198, 51, 100, 1]) + bytes(20)),
            ("198.51.100.1", 0),
        ),
        (v2(0, 0x00, b""), None),  # LOCAL: HAProxy's health check speaks for itself
        (v2(0, 0x11, ipv4_block("203.0.113.9", 1)), None),  # LOCAL ignores any addresses
        (v2(1, 0x00, b""), None),  # UNSPEC: the connection's own address
        (v2(1, 0x31, bytes(216)), None),  # UNIX sockets: likewise
        (v2(1, 0x12, ipv4_block("203.0.113.9", 1)), None),  # datagrams: likewise
    ],
)
def test_v2_headers_name_the_client_or_leave_the_connections_own_address(header, client):
    assert parse(header + HELLO) == ProxyHeader(2, client, HELLO)


def test_v2_tlvs_are_skipped_by_the_headers_length_and_never_read():
    alpn = b"\x01\x00\x02h2"  # PP2_TYPE_ALPN "h2"
    lying = b"\xee\xff\xff"  # a TLV claiming 65535 bytes, more than the header holds
    header = v2(1, 0x11, ipv4_block("203.0.113.9", 5000) + alpn + lying)
    assert parse(header + HELLO) == ProxyHeader(2, ("203.0.113.9", 5000), HELLO)


@pytest.mark.parametrize(
    ("header", "problem"),
    [
        (V2_SIGNATURE + b"\x11\x11\x00\x0c" + bytes(12), "version 1"),
        (V2_SIGNATURE + b"\x22\x11\x00\x0c" + bytes(12), "unknown command 2"),
        (v2(1, 0x11, b"", length=V2_MAX_LENGTH + 1), f"over the {V2_MAX_LENGTH} accepted"),
        (v2(1, 0x11, bytes(8)), "too short for its addresses"),
        (v2(1, 0x21, bytes(12)), "too short for its addresses"),
    ],
)
def test_malformed_v2_headers_are_refused_saying_why(header, problem):
    result = parse(header)
    assert isinstance(result, BadProxyHeader), result
    assert problem in result.problem
    assert result.seen.startswith("0d 0a 0d 0a")


def test_an_oversized_v2_header_is_refused_before_its_body_arrives():
    parser = ProxyHeaderParser()
    assert isinstance(parser.feed(v2(1, 0x11, b"", length=65535)), BadProxyHeader)


@pytest.mark.parametrize(
    "stream",
    [
        b"PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n" + HELLO,
        CAPTURED_V2 + HELLO,
        v2(0, 0x00, b"") + HELLO,
    ],
)
def test_a_header_fed_byte_by_byte_parses_as_in_one_piece(stream):
    parser = ProxyHeaderParser()
    results = [parser.feed(stream[i : i + 1]) for i in range(len(stream) - len(HELLO))]
    assert results[:-1] == [None] * (len(results) - 1)
    assert results[-1] == parse(stream[: len(stream) - len(HELLO)])
    assert isinstance(results[-1], ProxyHeader)


def test_only_the_opening_of_a_proxy_header_is_told_from_a_frame():
    assert begins_proxy_header(b"PROX")
    assert begins_proxy_header(V2_SIGNATURE[:4])
    assert not begins_proxy_header(struct.pack(">I", DEFAULT_MAX_FRAME))
    assert not begins_proxy_header(HELLO[:4])
    # as frame lengths both are far over any frame a server takes
    assert min(struct.unpack(">I", b"PROX")[0], struct.unpack(">I", b"\r\n\r\n")[0]) > 2**27
