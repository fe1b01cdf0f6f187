"""A bare socket speaking frames, for tests that must send what no client library would."""

from __future__ import annotations

import socket
import struct
import time
from typing import Any

from protocol.framing import FrameDecoder, Message, encode


class RawConnection:
    def __init__(
        self, port: int, timeout: float = 10.0, source: str | None = None, receive_buffer: int = 0
    ) -> None:
        """`source`: the local address to connect from (another 127.0.0.x is another client);
        `receive_buffer`: a small kernel buffer for a client that is to stop reading."""
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if receive_buffer:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        self.sock.settimeout(timeout)
        if source:
            self.sock.bind((source, 0))
        self.sock.connect(("127.0.0.1", port))
        self.decoder = FrameDecoder(2**24)
        self.inbox: list[dict[str, Any]] = []
        self.timeout = timeout
        self.next_id = 1

    def send_bytes(self, data: bytes) -> None:
        self.sock.sendall(data)

    def send(self, message: dict[str, Any]) -> None:
        self.sock.sendall(encode(message))

    def request(self, op: str, **args: Any) -> int:
        request_id, self.next_id = self.next_id, self.next_id + 1
        self.send({"id": request_id, "op": op, "args": args})
        return request_id

    def call(self, op: str, **args: Any) -> dict[str, Any]:
        return self.answer(self.request(op, **args))

    def hello(self) -> dict[str, Any]:
        return self.call("hello", protocol=1, client="raw-test")

    def answer(self, request_id: int | None) -> dict[str, Any]:
        """The next reply with this id (None: a connection-level error)."""
        return self.receive(lambda m: "event" not in m and m.get("id") == request_id)

    def receive(self, wanted: Any) -> dict[str, Any]:
        deadline = time.monotonic() + self.timeout
        while True:
            for message in self.inbox:
                if wanted(message):
                    self.inbox.remove(message)
                    return message
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no matching message; got {self.inbox!r}")
            self.sock.settimeout(remaining)
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("closed by the server")
            for event in self.decoder.feed(data):
                assert isinstance(event, Message), event
                self.inbox.append(event.body)

    def closed_by_server(self) -> bool:
        """True once the server has closed (reads until EOF, within the timeout)."""
        self.sock.settimeout(self.timeout)
        try:
            while self.sock.recv(65536):
                pass
        except ConnectionResetError:
            return True
        return True

    def close(self) -> None:
        self.sock.close()


class Signed(RawConnection):
    """A connection signed in with a session of its own, whose token it keeps."""

    token = ""


def header(length: int) -> bytes:
    return struct.pack(">I", length)


def ok(conn: RawConnection, op: str, **args: Any) -> dict[str, Any]:
    """`op`'s result, asserting it succeeded."""
    answer = conn.call(op, **args)
    assert answer["ok"], (op, answer)
    return answer["result"]


def refused(conn: RawConnection, op: str, **args: Any) -> dict[str, Any]:
    """`op`'s error, asserting it was refused."""
    answer = conn.call(op, **args)
    assert not answer["ok"], (op, answer)
    return answer["error"]
