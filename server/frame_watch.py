"""Unfinished frames: each must be finished in time, and large ones share one budget.

A connection may send a frame as slowly as it likes, byte by byte, and the server holds
what has come until the rest does: up to `max_frame` per connection. So a frame has a
deadline from its first byte (`frame_deadline_s`, longer for a large frame, at
`frame_min_bytes_per_s`), and a frame larger than `SMALL_FRAME` reserves its declared
length from a server-wide budget (`max_partial_frame_bytes`) as soon as its header is in,
of which one address may hold a share (`max_partial_frame_bytes_per_address`), so that one
address stalling large frames cannot take the whole budget: past either, the newest large
frame is refused.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from protocol.framing import FrameDecoder
from server.clock import Clock
from server.limits import Limits

SMALL_FRAME = 65_536  # bytes; every request of the protocol's section 12 fits in far less


class PartialFrameBudget:
    """Bytes the server may hold in large unfinished frames, all connections together and
    those of one address."""

    def __init__(self, budget: int, per_address: int) -> None:
        self.budget = budget
        self.per_address = per_address
        self.reserved = 0
        self.by_address: dict[str, int] = {}

    def reserve(self, size: int, address: str) -> bool:
        """Reserve `size` bytes for `address` if they fit: the check and the charge in one
        step."""
        held = self.by_address.get(address, 0)
        if self.reserved + size > self.budget or held + size > self.per_address:
            return False
        self.reserved += size
        self.by_address[address] = held + size
        return True

    def release(self, size: int, address: str) -> None:
        self.reserved -= size
        left = self.by_address.pop(address) - size
        if left:
            self.by_address[address] = left


class FrameWatch:
    """One connection's frame in progress: its deadline, and what it has reserved."""

    def __init__(
        self, clock: Clock, limits: Limits, budget: PartialFrameBudget, late: Callable[[], None]
    ) -> None:
        self.clock = clock
        self.limits = limits
        self.budget = budget
        self.late = late  # called when the frame in progress missed its deadline
        self.reserved = 0
        self.reserved_by = ""  # the address it is reserved for
        self._sized = False  # the deadline is set from the frame's declared length
        self._started = 0.0
        self._timer: Any = None

    def update(self, decoder: FrameDecoder, finished: bool, address: str) -> bool:
        """After `decoder` was fed; `finished`: a frame ended in what it was fed; `address`:
        the client's, as it stands (a proxy's header may have named it).

        False when the frame now in progress is refused: a large one the budget cannot hold."""
        if finished:
            self.stop()
        if not decoder.buffered:
            return True
        if self._timer is None:
            self._started = self.clock.seconds()
            self._timer = self.clock.callLater(self.limits.frame_deadline_s, self._missed)
        if self._sized:
            return True
        declared = decoder.declared
        if declared is None:
            return True
        self._sized = True
        allowed = max(self.limits.frame_deadline_s, declared / self.limits.frame_min_bytes_per_s)
        self._timer.reset(max(0.0, self._started + allowed - self.clock.seconds()))
        if declared <= SMALL_FRAME:
            return True
        if not self.budget.reserve(declared, address):
            return False
        self.reserved, self.reserved_by = declared, address
        return True

    def stop(self) -> None:
        """No frame in progress any more: no deadline, nothing reserved."""
        if self._timer is not None:
            if self._timer.active():
                self._timer.cancel()
            self._timer = None
        if self.reserved:
            self.budget.release(self.reserved, self.reserved_by)
            self.reserved = 0
        self._sized = False

    def _missed(self) -> None:
        self._timer = None
        self.late()
