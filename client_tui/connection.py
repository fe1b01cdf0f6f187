"""Which server to talk to, and the SDK client for it."""

from __future__ import annotations

import ssl
from dataclasses import dataclass

from protocol.client import AsyncClient
from protocol.rules import DEFAULT_PORT

CLIENT_NAME = "warung-tui/0.1"


@dataclass(frozen=True)
class Target:
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    tls: bool = False
    cafile: str | None = None

    @property
    def address(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    def with_address(self, text: str) -> Target:
        """This target with host and port taken from `host`, `host:port` or `[v6]:port`.

        Raises ValueError for a port that is not a number from 1 to 65535.
        """
        text = text.strip()
        host, port = text, self.port
        if text.startswith("["):
            host, _, rest = text[1:].partition("]")
            if rest.startswith(":"):
                port = _port(rest[1:])
        elif text.count(":") == 1:
            host, _, port_text = text.partition(":")
            port = _port(port_text)
        return Target(host or self.host, port, self.tls, self.cafile)

    def client(self) -> AsyncClient:
        tls: ssl.SSLContext | bool = False
        if self.tls:
            tls = ssl.create_default_context(cafile=self.cafile)
        return AsyncClient(self.host, self.port, tls=tls, client_name=CLIENT_NAME)


def _port(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise ValueError(f"not a port: {text!r}")
    return int(text)
