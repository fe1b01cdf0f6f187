"""The PROXY protocol header (HAProxy's, v1 text and v2 binary): bytes in, a result out.

A proxy in TCP mode (HAProxy with `send-proxy-v2`) opens each connection to the server with
one header naming the client it accepted; then the client's bytes follow. Parsed as
HAProxy's doc/proxy-protocol.txt specifies it:

- v1: `PROXY TCP4|TCP6 SRC DST SPORT DPORT\\r\\n` or `PROXY UNKNOWN ...\\r\\n`, at most 107
  bytes with its CRLF; single spaces, addresses of the family named, ports 0 to 65535.
- v2: a 12-byte signature, version 2, command LOCAL (a health check: the proxy speaks for
  itself) or PROXY, a family, and a length; the address block for TCP over IPv4 or IPv6,
  then TLVs, which are skipped by that length and never read. A length over
  `V2_MAX_LENGTH` is refused as soon as it is known, before any of it is buffered.

The spec's fallback holds: a header that does not name a TCP client (v1 `UNKNOWN`, v2
`LOCAL`, UNSPEC, a UNIX or datagram family) has `client` None, and the connection's own
address stands. Nothing here trusts the peer: whose header to read is the caller's choice
(`server.proxy_gate`), and the start of a stream from anyone else is checked with
`begins_proxy_header` so that a spoofed one is refused, not read.
"""

from __future__ import annotations

import ipaddress
import socket
import struct
from dataclasses import dataclass

from protocol.excerpt import excerpt

V1_PREFIX = b"PROXY "
V1_MAX = 107  # bytes of the longest v1 line, its CRLF included
V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"
V2_FIXED = struct.Struct(">12sBBH")  # signature, version and command, family, length
V2_MAX_LENGTH = 1024  # address block and TLVs: 216 for the addresses of every family, the
#                      rest for TLVs (HAProxy sends a few short ones at most)
OPENING = 4  # bytes that tell a PROXY header from a warung frame (see begins_proxy_header)
IPV4_MAPPED = bytes(10) + b"\xff\xff"  # the first 12 bytes of an IPv4-mapped IPv6 address
_IPV4 = struct.Struct(">4s4sHH")
_IPV6 = struct.Struct(">16s16sHH")


@dataclass(frozen=True, slots=True)
class ProxyHeader:
    """A whole header. `client` is the client's (address, port), None where the connection's
    own address stands; `rest` the bytes that came after the header: the stream's first."""

    version: int
    client: tuple[str, int] | None
    rest: bytes


@dataclass(frozen=True, slots=True)
class BadProxyHeader:
    """Not a valid PROXY header: `problem` says why, `seen` is an excerpt of what came."""

    problem: str
    seen: str


Result = ProxyHeader | BadProxyHeader | None


class ProxyHeaderParser:
    """Feed it the first bytes of a connection until it returns a result (None: more to come).

    It holds at most `V1_MAX` bytes for a v1 header and `16 + V2_MAX_LENGTH` for a v2 one.
    Once it has returned a result it must not be fed again."""

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, data: bytes) -> Result:
        buffer = self._buffer = self._buffer + data
        if _begins(buffer, V2_SIGNATURE):
            return _parse_v2(buffer)
        if _begins(buffer, V1_PREFIX):
            return _parse_v1(buffer)
        return _bad("no PROXY header where one must be", buffer)


def _begins(buffer: bytes, prefix: bytes) -> bool:
    """Whether `buffer` starts with `prefix`, or with its beginning while too short to tell."""
    return buffer[: len(prefix)] == prefix[: len(buffer)]


def begins_proxy_header(opening: bytes) -> bool:
    """Whether a stream's first `OPENING` bytes begin a PROXY header, v1 or v2.

    As a warung frame's 4-byte length, `PROX` or `\\r\\n\\r\\n` would declare a body of over
    200 MB, which no server accepts (`max_frame`): a warung client never sends them."""
    return opening in (V1_PREFIX[:OPENING], V2_SIGNATURE[:OPENING])


def _parse_v1(buffer: bytes) -> Result:
    end = buffer.find(b"\n", 0, V1_MAX)
    if end < 0:
        if len(buffer) >= V1_MAX:
            return _bad(f"a v1 header longer than {V1_MAX} bytes", buffer)
        return None
    if end == 0 or buffer[end - 1] != 0x0D:
        return _bad("a v1 header must end with CRLF", buffer)
    line, rest = buffer[: end - 1], buffer[end + 1 :]
    try:
        text = line.decode("ascii")
    except UnicodeDecodeError:
        return _bad("a v1 header must be ASCII", buffer)
    words = text.split(" ")
    if words[1:2] == ["UNKNOWN"]:
        return ProxyHeader(1, None, rest)  # the rest of the line is to be ignored
    if len(words) != 6 or words[1] not in ("TCP4", "TCP6"):
        return _bad("a v1 header is PROXY TCP4|TCP6 SRC DST SPORT DPORT or PROXY UNKNOWN", line)
    version = 4 if words[1] == "TCP4" else 6
    source = _v1_address(words[2], version)
    ports = [_v1_port(word) for word in words[4:6]]
    if source is None or _v1_address(words[3], version) is None or None in ports:
        return _bad(f"a v1 header with a bad {words[1]} address or port", line)
    return ProxyHeader(1, (source, ports[0] or 0), rest)


def _v1_address(word: str, version: int) -> str | None:
    try:
        address = ipaddress.ip_address(word)
    except ValueError:
        return None
    return _shown(address) if address.version == version else None


def _v1_port(word: str) -> int | None:
    if not (word.isascii() and word.isdigit()) or len(word) > 5 or int(word) > 65535:
        return None
    return int(word)


def _parse_v2(buffer: bytes) -> Result:
    if len(buffer) < V2_FIXED.size:
        return None
    _, version_command, family, length = V2_FIXED.unpack_from(buffer)
    if version_command >> 4 != 2:
        return _bad(f"a v2 header of version {version_command >> 4}", buffer)
    command = version_command & 0x0F
    if command > 1:
        return _bad(f"a v2 header with the unknown command {command}", buffer)
    if length > V2_MAX_LENGTH:
        return _bad(f"a v2 header of {length} bytes, over the {V2_MAX_LENGTH} accepted", buffer)
    end = V2_FIXED.size + length
    if len(buffer) < end:
        return None
    block, rest = buffer[V2_FIXED.size : end], buffer[end:]
    if command == 0:  # LOCAL: the proxy's own connection (a health check); block ignored
        return ProxyHeader(2, None, rest)
    layout = {0x11: _IPV4, 0x21: _IPV6}.get(family)
    if layout is None:  # UNSPEC, UNIX, datagrams: the spec's fallback to the real address
        return ProxyHeader(2, None, rest)
    if length < layout.size:
        return _bad(f"a v2 header of {length} bytes, too short for its addresses", buffer)
    source, _, port, _ = layout.unpack_from(block)
    return ProxyHeader(2, (_packed(source), port), rest)


def _packed(address: bytes) -> str:
    """A v2 header's 4- or 16-byte address as `_shown` names it (with `inet_ntop`, a few
    times faster than `ipaddress`: this runs for every connection through the proxy)."""
    if len(address) == 16 and address[:12] == IPV4_MAPPED:
        address = address[12:]
    return socket.inet_ntop(socket.AF_INET if len(address) == 4 else socket.AF_INET6, address)


def _shown(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    """The address as the server names a peer; an IPv4-mapped IPv6 one as IPv4, so that
    one client has one name whichever way its proxy listens."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(address)


def _bad(problem: str, seen: bytes) -> BadProxyHeader:
    if seen.startswith(V2_SIGNATURE):
        shown = excerpt(seen[: V2_FIXED.size].hex(" "))
    else:
        shown = excerpt(seen[:V1_MAX].decode("ascii", "replace").replace("\ufffd", "?"))
    return BadProxyHeader(problem, shown)
