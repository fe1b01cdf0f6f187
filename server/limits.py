"""Limits that keep one client from hurting the others, and the token bucket they use."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field, fields, replace
from typing import Any

from protocol.rules import DEFAULT_MAX_FRAME, MIN_CLIENT_MAX_FRAME

MAX_ADDRESSES = 100_000  # remembered by each AddressLimiter: about 20 MB at most


@dataclass(frozen=True)
class Limits:
    max_frame: int = DEFAULT_MAX_FRAME
    max_in_flight: int = 64
    rate_per_s: int = 2000
    burst: int = 4000
    refusals_per_s: float = 2000.0  # frames refused before a handler runs, per address ...
    refusal_burst: int = 10_000  # ... past which a connection refused once more is closed
    heartbeat_s: int = 30
    hello_timeout_s: float = 10.0
    proxy_header_s: float = 5.0  # for a connection from a --proxy-from proxy to send its header
    max_connections: int = 10_000
    connections_per_address_per_s: float = 100.0
    connection_burst_per_address: float = 500.0
    failed_logins_per_address_per_min: float = 20.0
    free_failed_logins_per_account: int = 5  # 0: the delays start at the first failure
    account_backoff_s: float = 1.0  # 0: no delays (one attempt at a time per account still)
    account_backoff_max_s: float = 300.0  # 0: no delays either
    registrations_per_address_per_hour: float = 30.0
    declines_per_account_per_hour: float = 10.0  # online checkouts declined, and the burst
    hashing_threads: int = field(default_factory=lambda: os.cpu_count() or 1)
    hashing_queue: int = 128  # hashes waiting for a thread; 0: none wait, the rest are refused
    paused_close_s: float = 30.0
    send_buffer_bytes: int = 262_144  # 0: the kernel's own size, autotuned
    max_subscriptions: int = 10_000
    max_values: int = 4096  # msgpack values in one request body (protocol.value_count)
    max_queued_bytes: int = 2_097_152  # queued to one connection, past which a reply closes it
    max_connections_per_address: int = 64
    frame_deadline_s: float = 10.0  # to finish a frame once its first byte is in, at least
    frame_min_bytes_per_s: int = 16_384  # ... and longer for a large frame, at this rate
    max_partial_frame_bytes: int = 67_108_864  # server-wide, declared by large unfinished frames
    max_partial_frame_bytes_per_address: int = 16_777_216  # ... of which one address may hold
    max_queued_push_bytes: int = 262_144  # queued to one connection, past which pushes drop
    max_queued_bytes_total: int = 268_435_456  # queued to all: past it the largest are closed
    # Session lifetimes (ASVS 5.0 V7.3.1 inactivity, V7.3.2 absolute); PROTOCOL.md 10.4.
    session_idle_s: int = 7 * 86_400
    session_absolute_s: int = 30 * 86_400
    staff_session_idle_s: int = 3_600
    staff_session_absolute_s: int = 12 * 3_600
    session_check_s: float = 5.0  # how often live connections' sessions are checked
    sessions_per_account: int = 50  # live at once; a sign-in past it ends the least used

    @property
    def idle_timeout_s(self) -> float:
        return 3 * self.heartbeat_s

    def to_wire(self) -> dict[str, object]:
        return {
            "max_frame": self.max_frame,
            "max_in_flight": self.max_in_flight,
            "max_subscriptions": self.max_subscriptions,
            "rate_per_s": self.rate_per_s,
            "burst": self.burst,
            "max_values": self.max_values,
        }


@dataclass(frozen=True)
class Floor:
    """The least a limit may be set to: `least`, or with `above` anything more than it."""

    least: int
    above: bool = False

    def admits(self, number: float) -> bool:
        """Whether `number` is finite and within the floor (never NaN or infinity)."""
        if not math.isfinite(number):
            return False
        return number > self.least if self.above else number >= self.least

    def __str__(self) -> str:
        return f"more than {self.least}" if self.above else f"of {self.least} or more"


COUNT = Floor(1)  # connections, requests, bytes, whole seconds: 0 refuses or drops everything
POSITIVE = Floor(0, above=True)  # seconds or a rate: 0 times out at once or never refills
ZERO_ALLOWED = Floor(0)  # 0 means something, which the limit's comment in Limits says

# Each limit's floor; a bucket's burst is at least 1, the cost of one request or connection,
# as a smaller one is never full enough to grant anything.
FLOORS: dict[str, Floor] = {
    "max_frame": Floor(MIN_CLIENT_MAX_FRAME),  # what a client must accept at least
    "max_in_flight": COUNT,
    "rate_per_s": COUNT,
    "burst": COUNT,
    "refusals_per_s": POSITIVE,
    "refusal_burst": COUNT,
    "heartbeat_s": COUNT,
    "hello_timeout_s": POSITIVE,
    "proxy_header_s": POSITIVE,
    "max_connections": COUNT,
    "connections_per_address_per_s": POSITIVE,
    "connection_burst_per_address": COUNT,
    "failed_logins_per_address_per_min": COUNT,  # the rate and, as is, the burst
    "free_failed_logins_per_account": ZERO_ALLOWED,
    "account_backoff_s": ZERO_ALLOWED,
    "account_backoff_max_s": ZERO_ALLOWED,
    "registrations_per_address_per_hour": COUNT,  # the rate and, as is, the burst
    "declines_per_account_per_hour": COUNT,  # the rate and, as is, the burst
    "hashing_threads": COUNT,
    "hashing_queue": ZERO_ALLOWED,
    "paused_close_s": POSITIVE,
    "send_buffer_bytes": ZERO_ALLOWED,
    "max_subscriptions": COUNT,
    "max_values": COUNT,
    "max_queued_bytes": COUNT,
    "max_connections_per_address": COUNT,
    "frame_deadline_s": POSITIVE,
    "frame_min_bytes_per_s": COUNT,
    "max_partial_frame_bytes": COUNT,
    "max_partial_frame_bytes_per_address": COUNT,
    "max_queued_push_bytes": COUNT,
    "max_queued_bytes_total": COUNT,
    "session_idle_s": COUNT,
    "session_absolute_s": COUNT,
    "staff_session_idle_s": COUNT,
    "staff_session_absolute_s": COUNT,
    "session_check_s": POSITIVE,
    "sessions_per_account": COUNT,
}


class TokenBucket:
    """`rate` tokens per second up to `burst`; `take()` says how long to wait when empty."""

    __slots__ = ("_stamp", "_tokens", "burst", "rate")

    def __init__(self, rate: float, burst: float, now: float) -> None:
        self.rate = rate
        self.burst = burst
        self._tokens = burst
        self._stamp = now

    def wait(self, now: float, cost: float = 1.0) -> float:
        """Seconds until `cost` tokens are there (0.0: now), taking none."""
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now
        return 0.0 if self._tokens >= cost else (cost - self._tokens) / self.rate

    def take(self, now: float, cost: float = 1.0) -> float:
        """Take `cost` tokens: 0.0 when granted, else the seconds until they would be."""
        wait = self.wait(now, cost)
        if wait == 0.0:
            self._tokens -= cost
        return wait

    def give_back(self, cost: float = 1.0) -> None:
        """Return `cost` tokens taken for work that turned out not to count."""
        self._tokens = min(self.burst, self._tokens + cost)


class AddressLimiter:
    """One token bucket per remote address, for at most `max_addresses` addresses.

    Past that bound the least recently used address is forgotten (each check of an address
    counts as a use): the one that has had the longest to refill, so most likely one whose
    bucket is full again. That is likely, not certain: `max_addresses` new addresses within
    one refill time evict a throttled one, whose next attempt then finds a full bucket.
    Forgetting everyone instead would lift every throttle at once.
    """

    def __init__(self, rate: float, burst: float, max_addresses: int = MAX_ADDRESSES) -> None:
        self.rate = rate
        self.burst = burst
        self.max_addresses = max_addresses
        self._buckets: dict[str, TokenBucket] = {}  # least recently used first

    def __len__(self) -> int:
        return len(self._buckets)

    def take(self, address: str, now: float) -> float:
        """Spend a token of `address`: 0.0 when granted, else the seconds to wait."""
        bucket = self._used(address)
        if bucket is None:
            if len(self._buckets) >= self.max_addresses:
                del self._buckets[next(iter(self._buckets))]
            bucket = self._buckets[address] = TokenBucket(self.rate, self.burst, now)
        return bucket.take(now)

    def wait(self, address: str, now: float) -> float:
        """Seconds until `address` has a token, spending none."""
        bucket = self._used(address)
        return 0.0 if bucket is None else bucket.wait(now)

    def give_back(self, address: str) -> None:
        """Return the token `take` spent for `address` (nothing if it was forgotten since)."""
        bucket = self._buckets.get(address)
        if bucket is not None:
            bucket.give_back()

    def _used(self, address: str) -> TokenBucket | None:
        """The bucket of `address`, moved to the most recently used end; None if unknown."""
        bucket = self._buckets.pop(address, None)
        if bucket is not None:
            self._buckets[address] = bucket
        return bucket


def with_overrides(limits: Limits, pairs: list[str]) -> Limits:
    """`limits` with `NAME=VALUE` overrides applied; a bad one raises ValueError naming it."""
    types = {f.name: f.type for f in fields(Limits)}
    changes: dict[str, Any] = {}  # each an int or a float, as its field is
    for pair in pairs:
        name, _, value = pair.partition("=")
        if name not in types:
            raise ValueError(f"unknown limit {name!r}; known: {', '.join(sorted(types))}")
        try:
            number = int(value) if types[name] in (int, "int") else float(value)
        except ValueError:
            raise ValueError(f"limit {name} needs a number, not {value!r}") from None
        if not FLOORS[name].admits(number):
            raise ValueError(f"limit {name} needs a number {FLOORS[name]}, not {value!r}")
        changes[name] = number
    return replace(limits, **changes)
