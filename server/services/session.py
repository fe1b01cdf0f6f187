"""hello and ping: what a connection learns before anything else."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from protocol.errors import UnsupportedVersion
from protocol.rules import SUPPORTED_VERSIONS
from server.dispatch import Call
from server.limits import Limits

SERVER_NAME = "warung/0.1.0"


class SessionService:
    def __init__(self, limits: Limits, shop: dict[str, Any]) -> None:
        self.limits = limits
        self.shop = shop
        self.ops: list[str] = []

    def offer(self, ops: Iterable[str]) -> None:
        """The ops `hello` says this server offers: those it has a handler for."""
        self.ops = sorted(ops)

    def hello(self, call: Call) -> dict[str, Any]:
        low, high = call.args["protocol"]
        ours_low, ours_high = SUPPORTED_VERSIONS
        chosen = min(high, ours_high)
        if chosen < max(low, ours_low):
            raise UnsupportedVersion(
                f"this server speaks protocol {ours_low}..{ours_high}, not {low}..{high}",
                {"supported": [ours_low, ours_high]},
            )
        call.peer.set_max_frame(call.args.get("max_frame"))
        call.peer.client_name = call.args["client"]
        return {
            "protocol": chosen,
            "server": SERVER_NAME,
            "limits": self.limits.to_wire(),
            "heartbeat_s": self.limits.heartbeat_s,
            "shop": self.shop,
            "ops": self.ops,
        }

    def ping(self, call: Call) -> dict[str, Any]:
        return {"time": datetime.now(UTC)}
