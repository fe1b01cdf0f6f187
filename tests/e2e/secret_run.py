"""A run that sends every kind of secret over the wire, for tests that grep for them after.

The tests that check what the server keeps (the audit log, the security log, the server's
own log) all need the same: the secrets of a real run, to look for in what was written.
"""

from __future__ import annotations

import pyotp
import pytest

from protocol.errors import Unauthenticated, WarungError
from tests.e2e.harness import ServerProcess


def run_with_secrets(server: ServerProcess) -> list[str]:
    """Sign up, fail a password, sign in, resume the session, turn TOTP on, fail and then make
    a password change, on `server`; every password, token, TOTP secret and code and recovery
    code this sent or received (the tried-and-wrong ones too)."""
    password, new_password = "kopi-tubruk-rahasia-77", "teh-tarik-rahasia-88"
    with server.client() as client:
        client.call("auth.register", username="rahasia", password=password)
        with pytest.raises(Unauthenticated):
            client.login("rahasia", password + "x")
    secrets = [password, password + "x", new_password, password + "y"]
    with server.client() as client:
        token = client.login("rahasia", password)["token"]
        client.resume(token)
        enrolled = client.call("auth.totp.enroll", password=password)
        code = pyotp.TOTP(enrolled["secret"]).now()
        confirmed = client.call("auth.totp.confirm", password=password, code=code)
        with pytest.raises(WarungError):
            client.call("auth.password.change", password=password + "y", new_password="x" * 12)
        client.call("auth.password.change", password=password, new_password=new_password)
    return [*secrets, token, enrolled["secret"], code, *confirmed["recovery_codes"]]
