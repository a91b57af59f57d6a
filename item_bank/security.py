"""Password and token hashing (argon2id via argon2-cffi; SHA-256 for random service tokens)."""

from __future__ import annotations

import functools
import hashlib
import os
import secrets

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError

MIN_PASSWORD_LENGTH = 8
# The test suite only (tests/conftest.py sets it, and the servers it starts inherit it):
# argon2's cheapest parameters instead of the default 64 MiB and 3 passes, which cost about
# 60-120 ms of CPU per login; the suite logs in some thousand times.  Never set it anywhere
# else: hashes made with it are stored with those parameters.
TEST_FAST_HASH_ENV = "SMARTCAT_TEST_FAST_PASSWORD_HASH"


@functools.cache
def _hasher() -> PasswordHasher:
    if os.environ.get(TEST_FAST_HASH_ENV) == "1":
        return PasswordHasher.from_parameters(profiles.CHEAPEST)
    return PasswordHasher()


def password_problem(password: str) -> str | None:
    """Why ``password`` cannot be one (empty or short), or None."""
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_LENGTH:
        return f"password must have at least {MIN_PASSWORD_LENGTH} characters"
    return None


def hash_password(password: str) -> str:
    """argon2id hash of ``password``; ValueError for an empty or short password."""
    problem = password_problem(password)
    if problem is not None:
        raise ValueError(problem)
    return _hasher().hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when ``password`` matches; False for a wrong password or a missing/corrupt hash."""
    if not password_hash or not isinstance(password, str):
        return False
    try:
        return _hasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher().check_needs_rehash(password_hash)


def new_token() -> str:
    """A random bearer token (shown once); store only :func:`hash_token` of it."""
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    # Tokens are 256-bit random, so a fast hash is enough (no dictionary to attack).
    return hashlib.sha256(token.encode()).hexdigest()
