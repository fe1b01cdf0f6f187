"""What all connections together may queue: one byte budget over the per-connection ones.

Each connection may queue `max_queued_bytes` (2 MiB), but at `max_connections` that would
be 20 GB: clients that stop reading, from enough addresses, could take the server's memory.
So the bytes queued to every connection (`PushProducer.queued_bytes`) are charged to one sum,
`max_queued_bytes_total`, in the same step as a connection's own budget is checked.

A connection's charge is what it had queued at its last write or hold, or none once the
kernel has taken all it wrote (`PushProducer.drained`); what Twisted's buffer sent since is
not seen until then, so the sum is an upper bound. A write that would take it past the
budget first counts every charged connection again. If the sum is still over, the
connections holding the most are closed (the writer too, when it is among them) until the
sum is at most `ROOM_LEFT` of the budget, so that one count pays for many writes and the
clients that read are not the ones cut off.
"""

from __future__ import annotations

import typing

ROOM_LEFT = 0.75  # the share of the budget a shedding leaves in use, at most


class Holder(typing.Protocol):
    """A connection, as the sum sees it."""

    charged: int  # its bytes in the sum

    def queued_bytes(self) -> int: ...

    def shed(self, queued: int) -> None:
        """Close at once, dropping what is queued (`queued` bytes), to make room."""


class QueuedTotal:
    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.total = 0
        self.holders: set[Holder] = set()
        self.shed_count = 0  # connections closed to make room, for the metrics

    def charge(self, holder: Holder, queued: int) -> bool:
        """Charge `holder` with `queued` bytes in all if the sum stays within the budget,
        making room when it would not; whether it was charged. One that was not has been
        shed: it must not write."""
        if self.total + queued - holder.charged > self.budget and not self._room(holder, queued):
            return False
        self.total += queued - holder.charged
        holder.charged = queued
        self.holders.add(holder)
        return True

    def release(self, holder: Holder) -> None:
        """`holder` is gone, or has been shed: its bytes leave the sum."""
        self.total -= holder.charged
        holder.charged = 0
        self.holders.discard(holder)

    def _room(self, writer: Holder, queued: int) -> bool:
        """Make room for `writer` to hold `queued` bytes; False if it was shed to do so."""
        self._recount()
        if self.total + queued - writer.charged <= self.budget:
            return True
        size = {holder: holder.charged for holder in self.holders}
        size[writer] = queued
        total = self.total - writer.charged + queued
        keep = self.budget * ROOM_LEFT
        for holder in sorted(size, key=size.__getitem__, reverse=True):
            if total <= keep:
                break
            total -= size[holder]
            self.release(holder)
            self.shed_count += 1
            holder.shed(size[holder])
            if holder is writer:
                return False
        return True

    def _recount(self) -> None:
        """Charge every holder with what it queues now; those that queue nothing leave."""
        total = 0
        for holder in list(self.holders):
            holder.charged = holder.queued_bytes()
            total += holder.charged
            if not holder.charged:
                self.holders.discard(holder)
        self.total = total
