"""Two-factor codes for tests on the real clock, each still accepted whenever it is sent.

The server takes the code of the step before now's, now's or the next one's, each step's
code once (`server/services/totp.py`). Confirming with the previous step's code and signing
in with now's fails whenever a 30 s step ends between making the code and the server
checking it: this step's code for the first use and the next step's for the second are
both accepted for at least 30 s after `TotpCodes` is made.
"""

from __future__ import annotations

import time

import pyotp

STEP_S = 30


class TotpCodes:
    def __init__(self, secret: str) -> None:
        self.totp = pyotp.TOTP(secret)
        self.step = int(time.time() // STEP_S)

    def first(self) -> str:
        """This step's code: accepted until the end of the next step."""
        return self.totp.at(self.step * STEP_S)

    def second(self) -> str:
        """The next step's code, for use after `first()`: accepted until the end of the
        step after next."""
        return self.totp.at((self.step + 1) * STEP_S)
