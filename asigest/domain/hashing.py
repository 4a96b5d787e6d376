"""Secrets: argon2id for passwords and PINs, SHA-256 for random API tokens and session secrets.

Passwords and PINs have hashers of their own (docs/decisioni/2026-12-07-costo-hash-pin.md).
A password can be long and is the office's key: argon2id's defaults (64 MiB, 3 passes, 4
lanes). A kiosk PIN has 4–8 digits — at most 10^8 candidates, 10^4 for most — so no cost
a login can afford would stop an offline search of a stolen hash; what protects a PIN
is the lockout (5 wrong PINs lock the badge, 20 the terminal, ``domain/accessi.py``).
Its hash is then the OWASP minimum for argon2id (19 MiB, 2 passes, 1 lane), about
20 ms instead of 300–400: the kiosk login stays within its 300 ms. A PIN stored with
other parameters still verifies (argon2 reads them from the hash) and is rehashed at
its next good login (``pin_da_rifare``).
"""

from __future__ import annotations

import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

HASHER_PASSWORD = PasswordHasher()
_hasher = HASHER_PASSWORD
HASHER_PIN = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1)
_hasher_pin = HASHER_PIN

# Compared against when the user does not exist, so a wrong badge costs as long as a
# wrong secret. One per set of parameters (made at first use, not at import).
_DUMMY: dict[tuple[int, int, int], str] = {}

TOKEN_PREFIX = "asg_"


def _dummy(hasher: PasswordHasher) -> str:
    chiave = (hasher.time_cost, hasher.memory_cost, hasher.parallelism)
    if chiave not in _DUMMY:
        _DUMMY[chiave] = hasher.hash("asigest-dummy-secret")
    return _DUMMY[chiave]


def _verify(hasher: PasswordHasher, stored_hash: str | None, secret: str) -> bool:
    try:
        return hasher.verify(stored_hash or _dummy(hasher), secret) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def hash_secret(secret: str) -> str:
    """An argon2id hash of a password."""
    return _hasher.hash(secret)


def verify_secret(stored_hash: str | None, secret: str) -> bool:
    """True when ``secret`` matches the password hash ``stored_hash``; always spends the same effort."""
    return _verify(_hasher, stored_hash, secret)


def hash_pin(pin: str) -> str:
    """An argon2id hash of a kiosk PIN, with the PIN's parameters."""
    return _hasher_pin.hash(pin)


def verify_pin(stored_hash: str | None, pin: str) -> bool:
    """True when ``pin`` matches ``stored_hash`` (made with any argon2 parameters); a
    missing hash costs as long as a wrong PIN."""
    return _verify(_hasher_pin, stored_hash, pin)


def pin_da_rifare(stored_hash: str) -> bool:
    """True when a PIN hash was made with other parameters than today's PIN ones (an
    older default): the next good login stores it again."""
    try:
        return _hasher_pin.check_needs_rehash(stored_hash)
    except InvalidHashError:
        return True


def new_api_token() -> str:
    """A fresh bearer token: a recognisable prefix and 256 random bits."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    """What is stored for a token: its SHA-256 (hex)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_session_secret() -> str:
    """A fresh login-session secret (256 random bits), kept only in the signed cookie;
    the database keeps its ``token_digest``."""
    return secrets.token_urlsafe(32)
