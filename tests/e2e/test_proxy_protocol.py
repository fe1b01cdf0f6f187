"""The PROXY protocol on a real server: `--proxy-from` addresses open each connection with a
header naming the client, whose address every per-address limit and log then sees; no one
else may send one. (Through HAProxy itself: tests/e2e/test_deploy.py.)"""

from __future__ import annotations

import ipaddress
import socket
import ssl
import struct

from protocol.framing import FrameDecoder, Message, encode
from server.proxy_header import V2_SIGNATURE
from tests.e2e.harness import ServerProcess, wait_until
from tests.e2e.raw import RawConnection
from tests.e2e.test_connection_limits import security_events
from tests.e2e.test_tls import certificate  # noqa: F401  # a fixture

HELLO = encode({"id": 1, "op": "hello", "args": {"protocol": 1, "client": "proxied"}})


def v1(client: str, port: int = 40000) -> bytes:
    family = "TCP6" if ":" in client else "TCP4"
    server = "::1" if ":" in client else "127.0.0.1"
    return f"PROXY {family} {client} {server} {port} 7411\r\n".encode()


def v2(client: str | None, port: int = 40000) -> bytes:
    """A v2 PROXY header for `client`; None: the LOCAL command of a health check."""
    if client is None:
        return V2_SIGNATURE + b"\x20\x00\x00\x00"
    source = ipaddress.ip_address(client)
    family = 0x11 if source.version == 4 else 0x21
    destination = ipaddress.ip_address("127.0.0.1" if source.version == 4 else "::1")
    block = source.packed + destination.packed + struct.pack(">HH", port, 7411)
    return V2_SIGNATURE + struct.pack(">BBH", 0x21, family, len(block)) + block


def proxied(shop: ServerProcess, header: bytes, source: str | None = None) -> RawConnection:
    """A connection that sends `header` and a hello in one segment, as a proxy would."""
    conn = RawConnection(shop.port, source=source)
    conn.send_bytes(header + HELLO)
    return conn


def admitted(shop: ServerProcess, header: bytes) -> bool:
    conn = proxied(shop, header)
    try:
        return conn.receive(lambda m: "id" in m).get("ok") is True
    except ConnectionError:
        return False
    finally:
        conn.close()


def all_until_closed(conn: RawConnection) -> bytes:
    """Every byte the server sends before it closes (within the connection's timeout)."""
    received = b""
    try:
        while chunk := conn.sock.recv(65536):
            received += chunk
    except ConnectionResetError:
        pass
    return received


def closings(shop: ServerProcess, reason: str, at_least: int = 1) -> list[dict]:
    """The security log's `conn.closed` lines for `reason`, once there are `at_least`."""
    lines = [e for e in security_events(shop, "conn.closed") if e["reason"] == reason]
    return lines if len(lines) >= at_least else []


def test_the_client_named_by_a_v1_or_v2_header_is_the_address_the_limits_and_logs_see(servers):
    shop = servers.start("--proxy-from", "127.0.0.1", "--limit", "max_connections_per_address=1")
    first = proxied(shop, v1("203.0.113.7"))  # the hello after the header, in the same segment
    assert first.answer(1)["ok"]

    second = proxied(shop, v2("203.0.113.7"))  # the same client, through the same proxy
    assert second.answer(None)["error"]["details"]["reason"] == "address_connections"
    assert second.closed_by_server()
    [refused] = wait_until(lambda: security_events(shop, "conn.refused"), what="the refusal")
    assert (refused["address"], refused["reason"]) == ("203.0.113.7", "address_connections")

    others = [proxied(shop, v2("2001:db8::9")), proxied(shop, v1("198.51.100.4"))]
    health_check = proxied(shop, v2(None))  # LOCAL: the proxy's own address, 127.0.0.1
    for conn in [*others, health_check]:
        assert conn.answer(1)["ok"]
    for conn, address in zip(others, ["2001:db8::9", "198.51.100.4"], strict=True):
        assert conn.call("auth.login", username="customer", password="wrong")["error"]
        wait_until(
            lambda a=address: [
                e for e in security_events(shop, "auth.login.failed") if e["address"] == a
            ],
            what=f"a failed sign-in from {address}",
        )
    assert first.call("ping")["ok"]
    first.close()  # its place is given back to its client's address
    wait_until(lambda: admitted(shop, v2("203.0.113.7")), what="203.0.113.7 admitted again")


def test_a_proxy_header_from_an_address_not_configured_is_refused_and_nothing_served(servers):
    shop = servers.start("--proxy-from", "127.0.0.2")
    for header in (v1("203.0.113.7"), v2("203.0.113.7")):
        spoofed = proxied(shop, header)  # from 127.0.0.1: not a proxy
        assert all_until_closed(spoofed) == b""
    refused = wait_until(lambda: closings(shop, "proxy_header_refused", 2), what="two lines")
    assert [e["address"] for e in refused] == ["127.0.0.1", "127.0.0.1"]

    direct = RawConnection(shop.port)  # without a header, as always
    assert direct.hello()["ok"]


def test_a_connection_from_a_proxy_must_open_with_a_header(servers):
    shop = servers.start("--proxy-from", "127.0.0.0/30")
    bare = proxied(shop, b"", source="127.0.0.2")
    assert all_until_closed(bare) == b""
    [closed] = wait_until(lambda: closings(shop, "proxy_header"), what="a line")
    assert closed["address"] == "127.0.0.2"
    assert closed["problem"] == "no PROXY header where one must be"
    assert closed["seen"].startswith("???-??id?")  # the hello frame, printable


def test_malformed_oversized_and_slow_headers_close_the_connection_with_a_line(servers):
    shop = servers.start("--proxy-from", "127.0.0.1", "--limit", "proxy_header_s=1")
    bad = [
        b"PROXY TCP4 203.0.113.7 127.0.0.1 40000 99999\r\n",
        b"PROXY UNKNOWN " + b"x" * 200,
        V2_SIGNATURE + b"\x21\x11\xff\xff" + bytes(64),
    ]
    for header in bad:
        assert all_until_closed(proxied(shop, header)) == b""
    lines = wait_until(
        lambda: closings(shop, "proxy_header")[2:] and closings(shop, "proxy_header")
    )
    assert [e["problem"] for e in lines] == [
        "a v1 header with a bad TCP4 address or port",
        "a v1 header longer than 107 bytes",
        "a v2 header of 65535 bytes, over the 1024 accepted",
    ]
    assert lines[0]["seen"] == "PROXY TCP4 203.0.113.7 127.0.0.1 40000 99999"
    assert lines[1]["seen"].endswith("(107 chars)")
    assert lines[2]["seen"].startswith("0d 0a 0d 0a 00 0d 0a 51 55 49 54 0a 21 11 ff ff")

    slow = RawConnection(shop.port)
    slow.send_bytes(b"PROXY TCP4 203.0.113.")  # and no more
    assert all_until_closed(slow) == b""
    [late] = wait_until(lambda: closings(shop, "proxy_deadline"), what="the deadline's line")
    assert late["address"] == "127.0.0.1"

    assert proxied(shop, v2("203.0.113.7")).answer(1)["ok"]  # the server serves on


def test_the_header_comes_before_the_tls_handshake(servers, certificate):  # noqa: F811
    cert, key = certificate
    shop = servers.start(
        "--proxy-from", "127.0.0.1", "--tls-cert", str(cert), "--tls-key", str(key)
    )
    trusted = ssl.create_default_context(cafile=str(cert))
    with socket.create_connection(("127.0.0.1", shop.port), timeout=10) as plain:
        plain.sendall(v2("203.0.113.50"))
        with trusted.wrap_socket(plain, server_hostname="localhost") as tls:
            tls.sendall(
                HELLO
                + encode(
                    {
                        "id": 2,
                        "op": "auth.login",
                        "args": {"username": "customer", "password": "wrong"},
                    }
                )
            )
            answers = read_answers(tls, 2)
    assert answers[1]["ok"] and answers[2]["error"]
    [failed] = wait_until(lambda: security_events(shop, "auth.login.failed"), what="a line")
    assert failed["address"] == "203.0.113.50"

    spoofed = proxied(shop, v2("203.0.113.51"), source="127.0.0.2")  # not a proxy
    assert all_until_closed(spoofed) == b""
    [refused] = wait_until(lambda: closings(shop, "proxy_header_refused"), what="a line")
    assert refused["address"] == "127.0.0.2"
    not_a_proxy = socket.create_connection(
        ("127.0.0.1", shop.port), timeout=10, source_address=("127.0.0.2", 0)
    )
    with trusted.wrap_socket(not_a_proxy, server_hostname="localhost") as direct:  # no header
        direct.sendall(HELLO)
        assert read_answers(direct, 1)[1]["ok"]


def read_answers(sock: ssl.SSLSocket, n: int) -> dict[int, dict]:
    decoder = FrameDecoder(1 << 20)
    answers: dict[int, dict] = {}
    while len(answers) < n:
        chunk = sock.recv(65536)
        assert chunk, f"closed after {answers}"
        for event in decoder.feed(chunk):
            assert isinstance(event, Message)
            answers[event.body["id"]] = event.body
    return answers
