"""The cyclic garbage collector, set for a server that holds thousands of connections.

Python collects its oldest generation, every object the process holds, once ten young
collections have passed and the objects promoted since the last full collection reach a
quarter of those it kept. A server with thousands of signed-in connections holds hundreds
of thousands of objects, and a burst of requests in flight (a flash sale: 5,000 checkouts
at once) promotes enough to pass that quarter again and again: py-spy and `gc.callbacks`
found three full collections in such a sale's two seconds, 0.4-0.5 s of the server's CPU,
each one holding every answer behind it. Waiting for a hundred young collections instead
of ten before a full one, and leaving out what startup made (modules, classes, the
schema: never garbage), keeps the full ones rare and short; the quarter rule still bounds
how much garbage waits for them.
"""

from __future__ import annotations

import gc

YOUNG = 700  # allocations between young collections: Python's default
MIDDLE = 10  # young collections per middle one: Python's default
OLD = 100  # middle collections before a full one may run: Python's is 10


def tune() -> None:
    """Freeze what exists now (call it once startup is done) and space out full collections."""
    gc.freeze()
    gc.set_threshold(YOUNG, MIDDLE, OLD)
