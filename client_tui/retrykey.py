"""Idempotency keys for a dialog's "try again" (PROTOCOL.md section 14)."""

from __future__ import annotations

import secrets


class RetryKey:
    """One key per set of arguments. Pressing the button again with the same numbers (after
    a lost reply, say) sends the same key, so the server applies the call once; other
    numbers get a new key, since a key reused with other arguments is `conflict`. A refused
    call leaves its key unused on the server, so reusing it then is harmless too. A call that
    was applied but answered an error is not one to press again: a refund the payment
    provider did not confirm replays that same `unavailable` under its key (the dialog says
    so and offers no retry)."""

    def __init__(self) -> None:
        self._args: tuple[object, ...] | None = None
        self._key = ""

    def key(self, *args: object) -> str:
        if args != self._args:
            self._args, self._key = args, secrets.token_urlsafe(16)
        return self._key
