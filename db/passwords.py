"""Password hashing with argon2id (argon2-cffi).

The parameters follow the OWASP recommendation for argon2id (19 MiB, 2 passes, 1 lane): strong
enough for passwords, and cheap enough in memory that a burst of logins cannot exhaust a small
server. Each hash records its own parameters, so changing them here keeps old hashes verifiable;
an old hash keeps its old parameters until its password is set again.
"""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)


def hash_password(password: str) -> str:
    """An argon2id hash of `password` (salted; a new salt every call)."""
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Whether `password` matches `password_hash`; False also for a malformed hash."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
