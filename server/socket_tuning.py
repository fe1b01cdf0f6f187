"""A client's TCP socket as warung wants it: no Nagle delay, and a fixed kernel send buffer.

Nagle's algorithm holds a small write back until the previous one is acknowledged, and the
client delays its ACKs (up to 40 ms): a checkout's `order` push followed by its answer
waited that long. Each turn's writes still leave as one send (`server.turn_output`). A fixed
send buffer (no autotuning up to megabytes) means a client that stops reading fills it soon
and its stock values are conflated.
"""

from __future__ import annotations

import socket
from typing import Any


def tune_socket(transport: Any, send_buffer_bytes: int) -> None:
    """Set the options on the TCP socket under `transport` (none for a transport without
    one, as in tests); `send_buffer_bytes` 0 leaves the kernel's own."""
    sock = _tcp_socket(transport)
    if sock is None:
        return
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if send_buffer_bytes:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, send_buffer_bytes)


def _tcp_socket(transport: Any) -> socket.socket | None:
    """The TCP socket under the transport; under TLS, the one under the TLS layer."""
    for layer in (transport, getattr(transport, "transport", None)):
        handle = getattr(layer, "getHandle", None)
        sock = handle() if handle is not None else None
        if isinstance(sock, socket.socket):
            return sock
    return None
